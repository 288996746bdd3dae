/*
 * lckguest: the lab guest's workload and integrity checker (static, runs as the initramfs's worker).
 *
 *   lckguest gen DIR            (build host) writes the data-disk file set into DIR
 *   lckguest run WORKLOAD DATA [DATA2]
 *                               (guest) warms the page cache, runs WORKLOAD, and after every resume
 *                               re-hashes the anonymous region and the cached files from memory; with
 *                               DATA2 (a second disk holding the same file set) the odd-numbered files
 *                               are used from there, so both disks' blocks are cached, written and checked
 *
 * Every 4 KiB page it writes is self-describing: a header (magic, object, page, generation) then a
 * pseudo-random fill derived from the header. A wrong page is therefore caught by the guest itself and
 * named precisely ("holds file 3 page 7 gen 0"), whatever put it there. The guest keeps the generation
 * it last wrote for each mutable page, so stale content is caught too. Caches are never dropped: the
 * check reads files through the page cache and reports how much of them was resident.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MAGIC 0x314547415048434cull /* "LCHPAGE1" */
#define ANON_ID 0xffffu
#define RO_FILES 12u
#define RO_PAGES 2048u /* 8 MiB each: 96 MiB of read-mostly file data */
#define RW_FILES 4u
#define RW_PAGES 1024u /* 4 MiB each, rewritten by the write workloads */
#define MM_ID 100u     /* the mmap-updated file */
#define MM_PAGES 1024u
#define ANON_PAGES 8192u /* 32 MiB anonymous region */

struct hdr {
  uint64_t magic;
  uint32_t obj, page, gen, pad;
  uint64_t check;
};

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t seed_of(uint32_t obj, uint32_t page, uint32_t gen) {
  return ((uint64_t)obj << 44) ^ ((uint64_t)page << 20) ^ gen ^ 0x6c61622d6c636bull;
}

static void fill(uint8_t *p, uint32_t obj, uint32_t page, uint32_t gen) {
  struct hdr h = {MAGIC, obj, page, gen, 0, 0};
  uint64_t s = seed_of(obj, page, gen);
  h.check = mix(&s);
  memcpy(p, &h, sizeof h);
  for (size_t i = sizeof h; i < PAGE; i += 8) {
    uint64_t v = mix(&s);
    memcpy(p + i, &v, 8);
  }
}

/* 0 if the page is exactly (obj, page, gen); else writes what the page holds into `what`. */
static int check(const uint8_t *p, uint32_t obj, uint32_t page, uint32_t gen, char *what, size_t n) {
  static uint8_t want[PAGE];
  fill(want, obj, page, gen);
  if (memcmp(p, want, PAGE) == 0) return 0;
  struct hdr h;
  memcpy(&h, p, sizeof h);
  int zero = 1;
  for (size_t i = 0; i < PAGE && zero; i++) zero = p[i] == 0;
  if (zero)
    snprintf(what, n, "all zero");
  else if (h.magic != MAGIC)
    snprintf(what, n, "unknown bytes %016llx", (unsigned long long)h.magic);
  else {
    fill(want, h.obj, h.page, h.gen);
    const char *torn = memcmp(p, want, PAGE) == 0 ? "" : " (torn)";
    snprintf(what, n, "holds obj %u page %u gen %u%s", h.obj, h.page, h.gen, torn);
  }
  return 1;
}

static void die(const char *what) {
  printf("GUEST error %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static void path_of(char *buf, size_t n, const char *dir, uint32_t obj) {
  if (obj < RO_FILES)
    snprintf(buf, n, "%s/ro/f%02u", dir, obj);
  else if (obj == MM_ID)
    snprintf(buf, n, "%s/rw/mm", dir);
  else
    snprintf(buf, n, "%s/rw/w%02u", dir, obj - RO_FILES);
}

static uint32_t pages_of(uint32_t obj) {
  return obj < RO_FILES ? RO_PAGES : obj == MM_ID ? MM_PAGES : RW_PAGES;
}

static void write_file(const char *dir, uint32_t obj) {
  char path[256];
  static uint8_t buf[PAGE];
  path_of(path, sizeof path, dir, obj);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(path);
  for (uint32_t p = 0; p < pages_of(obj); p++) {
    fill(buf, obj, p, 0);
    if (write(fd, buf, PAGE) != PAGE) die(path);
  }
  close(fd);
}

static int gen_cmd(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/ro", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/rw", dir);
  mkdir(path, 0755);
  for (uint32_t f = 0; f < RO_FILES + RW_FILES; f++) write_file(dir, f);
  write_file(dir, MM_ID);
  return 0;
}

/* ---- guest side ---- */

static const char *data, *data2;
static uint8_t *anon;
static uint32_t anon_gen[ANON_PAGES];
static uint32_t rw_gen[RW_FILES][RW_PAGES];
static uint32_t mm_gen[MM_PAGES];
static uint64_t rng = 0x1234567;

static uint32_t rnd(uint32_t n) { return (uint32_t)(mix(&rng) % n); }

/* Which disk an object is used from: with a second disk, every odd-numbered file lives there. */
static const char *dir_of(uint32_t obj) { return data2 && obj % 2 == 1 ? data2 : data; }

static int open_obj(uint32_t obj, int flags) {
  char path[256];
  path_of(path, sizeof path, dir_of(obj), obj);
  int fd = open(path, flags);
  if (fd < 0) die(path);
  return fd;
}

static void read_whole(uint32_t obj) {
  static uint8_t buf[64 * PAGE];
  int fd = open_obj(obj, O_RDONLY);
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void rewrite_pages(uint32_t f, uint32_t first, uint32_t count, int direct) {
  static uint8_t *buf;
  if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) die("memalign");
  int fd = open_obj(RO_FILES + f, O_WRONLY | (direct ? O_DIRECT : 0));
  for (uint32_t p = first; p < first + count && p < RW_PAGES; p++) {
    fill(buf, RO_FILES + f, p, rw_gen[f][p] + 1);
    if (pwrite(fd, buf, PAGE, (off_t)p * PAGE) != PAGE) die("pwrite");
    rw_gen[f][p]++;
  }
  if (fsync(fd)) die("fsync");
  close(fd);
}

static void touch_anon(uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t p = rnd(ANON_PAGES);
    fill(anon + (size_t)p * PAGE, ANON_ID, p, ++anon_gen[p]);
  }
}

static void mmap_update(uint32_t n) {
  int fd = open_obj(MM_ID, O_RDWR);
  uint8_t *m = mmap(NULL, (size_t)MM_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap");
  for (uint32_t i = 0; i < n; i++) {
    uint32_t p = rnd(MM_PAGES);
    fill(m + (size_t)p * PAGE, MM_ID, p, ++mm_gen[p]);
  }
  if (msync(m, (size_t)MM_PAGES * PAGE, MS_SYNC)) die("msync");
  munmap(m, (size_t)MM_PAGES * PAGE);
  close(fd);
}

static void direct_read(void) {
  static uint8_t *buf;
  char what[96];
  if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) die("memalign");
  uint32_t f = rnd(RW_FILES), p = rnd(RW_PAGES);
  int fd = open_obj(RO_FILES + f, O_RDONLY | O_DIRECT);
  if (pread(fd, buf, PAGE, (off_t)p * PAGE) != PAGE) die("pread direct");
  close(fd);
  if (check(buf, RO_FILES + f, p, rw_gen[f][p], what, sizeof what))
    printf("GUEST direct-read mismatch file w%02u page %u: %s\n", f, p, what);
}

static void trim(const char *dir) {
  /* A short-lived file gives fstrim freed blocks to discard. */
  char path[256];
  snprintf(path, sizeof path, "%s/rw/tmp", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  static uint8_t buf[PAGE];
  for (uint32_t p = 0; fd >= 0 && p < 256; p++) {
    fill(buf, 200, p, 0);
    if (write(fd, buf, PAGE) != PAGE) break;
  }
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  unlink(path);
  int dfd = open(dir, O_RDONLY);
  struct fstrim_range r = {0, UINT64_MAX, 0};
  if (dfd >= 0 && ioctl(dfd, FITRIM, &r) == 0)
    printf("GUEST fstrim %s %llu bytes\n", dir, (unsigned long long)r.len);
  if (dfd >= 0) close(dfd);
}

static void workload(const char *w) {
  if (!strcmp(w, "read-heavy")) {
    read_whole(rnd(RO_FILES));
    touch_anon(8);
  } else if (!strcmp(w, "write-heavy")) {
    rewrite_pages(rnd(RW_FILES), 0, RW_PAGES, 0);
    touch_anon(64);
  } else if (!strcmp(w, "mixed")) {
    static uint32_t i;
    read_whole(rnd(RO_FILES));
    rewrite_pages(rnd(RW_FILES), rnd(RW_PAGES - 64), 64, 0);
    mmap_update(32);
    rewrite_pages(rnd(RW_FILES), rnd(RW_PAGES - 8), 8, 1);
    direct_read();
    touch_anon(64);
    if (++i % 5 == 0) trim(data);
    if (data2 && i % 5 == 2) trim(data2);
  }
}

struct tally {
  uint64_t pages, resident, bad;
};

static void report_bad(struct tally *t, const char *obj, uint32_t page, const char *what, char *first,
                       size_t n) {
  if (t->bad++ == 0) snprintf(first, n, "%s page %u %s", obj, page, what);
}

static void check_file(uint32_t obj, struct tally *t, char *first, size_t n) {
  char what[96], name[32];
  int fd = open_obj(obj, O_RDONLY);
  size_t len = (size_t)pages_of(obj) * PAGE;
  uint8_t *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap check");
  unsigned char vec[RO_PAGES];
  if (mincore(m, len, vec) == 0)
    for (uint32_t p = 0; p < pages_of(obj); p++) t->resident += vec[p] & 1;
  if (obj < RO_FILES)
    snprintf(name, sizeof name, "file f%02u", obj);
  else if (obj == MM_ID)
    snprintf(name, sizeof name, "file mm");
  else
    snprintf(name, sizeof name, "file w%02u", obj - RO_FILES);
  for (uint32_t p = 0; p < pages_of(obj); p++) {
    uint32_t gen = obj < RO_FILES ? 0 : obj == MM_ID ? mm_gen[p] : rw_gen[obj - RO_FILES][p];
    t->pages++;
    if (check(m + (size_t)p * PAGE, obj, p, gen, what, sizeof what)) report_bad(t, name, p, what, first, n);
  }
  munmap(m, len);
  close(fd);
}

static void integrity(void) {
  struct tally a = {0, 0, 0}, f = {0, 0, 0};
  char first[160] = "", what[96];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t p = 0; p < ANON_PAGES; p++) {
    a.pages++;
    if (check(anon + (size_t)p * PAGE, ANON_ID, p, anon_gen[p], what, sizeof what))
      report_bad(&a, "anon", p, what, first, sizeof first);
  }
  for (uint32_t o = 0; o < RO_FILES + RW_FILES; o++) check_file(o, &f, first, sizeof first);
  check_file(MM_ID, &f, first, sizeof first);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (a.bad + f.bad == 0)
    printf("INTEGRITY OK anon_pages=%llu file_pages=%llu resident_pct=%.1f seconds=%.2f\n",
           (unsigned long long)a.pages, (unsigned long long)f.pages, 100.0 * (double)f.resident / (double)f.pages,
           s);
  else
    printf("INTEGRITY CORRUPT %llu anon and %llu file pages wrong, first: %s\n", (unsigned long long)a.bad,
           (unsigned long long)f.bad, first);
  fflush(stdout);
}

/* Linux's Xen suspend path thaws tasks with "Restarting tasks ... done." once per resume. */
static unsigned resumes(void) {
  static char buf[1 << 20];
  int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf - 1);
  if (n < 0) return 0;
  buf[n] = 0;
  unsigned c = 0;
  for (char *p = buf; (p = strstr(p, "Restarting tasks")); p++) c++;
  return c;
}

static void meminfo(unsigned long iter) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[128];
  unsigned long total = 0, cached = 0, anonkb = 0, v;
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "MemTotal: %lu", &v) == 1) total = v;
    if (sscanf(line, "Cached: %lu", &v) == 1) cached = v;
    if (sscanf(line, "AnonPages: %lu", &v) == 1) anonkb = v;
  }
  if (f) fclose(f);
  printf("GUEST iter %lu memtotal_kb=%lu cached_kb=%lu anon_kb=%lu\n", iter, total, cached, anonkb);
  fflush(stdout);
}

static int run_cmd(const char *w, const char *dir, const char *dir2) {
  data = dir;
  data2 = dir2;
  if (strcmp(w, "read-heavy") && strcmp(w, "write-heavy") && strcmp(w, "mixed") && strcmp(w, "idle")) {
    printf("GUEST error unknown workload %s\n", w);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  anon = mmap(NULL, (size_t)ANON_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (anon == MAP_FAILED) die("mmap anon");
  for (uint32_t p = 0; p < ANON_PAGES; p++) fill(anon + (size_t)p * PAGE, ANON_ID, p, 0);
  for (uint32_t o = 0; o < RO_FILES + RW_FILES; o++) read_whole(o);
  read_whole(MM_ID);
  unsigned seen = resumes();
  integrity();
  printf("GUEST ready workload=%s\n", w);
  for (unsigned long i = 1;; i++) {
    workload(w);
    meminfo(i);
    unsigned now = resumes();
    if (now != seen) {
      seen = now;
      printf("GUEST resumed %u\n", now);
      integrity();
    }
    sleep(1);
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "gen")) return gen_cmd(argv[2]);
  if ((argc == 4 || argc == 5) && !strcmp(argv[1], "run")) return run_cmd(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
  fprintf(stderr, "usage: lckguest gen DIR | lckguest run read-heavy|write-heavy|mixed|idle DATA [DATA2]\n");
  return 2;
}
