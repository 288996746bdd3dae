/**
 * The guest operating system model: memory management (free lists, page cache LRU, anonymous memory,
 * swap, balloon, zeroing), the page cache (readahead, delayed writeback, metadata and journal) over the
 * file system of fs.ts, processes, and O_DIRECT I/O, all driving the block device of device.ts. The
 * hypervisor-visible result is the event stream in the Emitter; nothing here knows about page content.
 *
 * All per-page state is in typed arrays indexed by pfn (a page is on at most one list: a free list, an
 * LRU list, its process's page list or the balloon; dirty page cache pages are on the dirty list too),
 * per-block state is in the
 * file system's arrays and in `cache` (block -> pfn). Workloads (sim/workloads) drive the public API.
 */
import type { Prng } from '../prng.ts';
import { BioKind, BlockDevice, type BioOwner } from './device.ts';
import type { Emitter } from './emitter.ts';
import { FileFlag, FileSystem, type DiskLayout } from './fs.ts';
import { IndexLists } from './lists.ts';
import type { GuestParams } from './params.ts';

// Page kinds.
const FREE = 0;
const KERNEL = 1;
const CACHE = 2;
const ANON = 3;
const BALLOON = 4;
/** Freed while still under I/O: becomes free when the last request using it completes. */
const ZOMBIE = 5;

// Page flags.
const DIRTY = 1;
const UPTODATE = 2;
const WRITEBACK = 4;
const REF = 8;
const META = 16;
const SWAPPING = 32;
/** A page cache page only partly filled from disk: the rest is zeroed once the read completes. */
const PARTIAL = 64;
const ERR = 128;
// Second flag byte.
const IN_TX = 1;
const LOCKED = 2;

// LRU-type lists.
const L_FREE = 0;
const L_ZERO = 1;
const L_INACTIVE = 2;
const L_ACTIVE = 3;
const L_BALLOON = 4;
/** Process `pid`'s pages are list PROC + pid, oldest first: its memory, and its anonymous LRU. */
const PROC = 5;

const PAGE = 4096;
/** Most processes alive at once. */
export const MAX_PROCS = 4096;
const LISTS = PROC + MAX_PROCS;
/** Pages of a process's I/O buffer (the first pages of its memory), the target of read() copies. */
const USER_BUFFER_PAGES = 16;
const JOURNAL_BUFFERS = 8;
const BALLOON_INTERVAL = 1000;
/** Share of an executable's and its libraries' pages a starting program faults in. */
const EXEC_MAP_FRACTION = 0.4;
/** Most of memory firmware and kernel may take. */
const KERNEL_CAP = 0.35;
const GIB = 1 << 30;

/** Whether a multiple of `interval` lies in (before, now]. */
function crossed(before: number, now: number, interval: number): boolean {
  return Math.floor(now / interval) > Math.floor(before / interval);
}

/** Queues consecutive page segments into bios of at most `max` segments. */
class BioBuilder {
  private n = 0;
  private start = 0;
  private next = 0;
  private tag = -1;
  private readonly pfn: Int32Array;
  private readonly first: Uint8Array;
  private readonly last: Uint8Array;

  constructor(
    private readonly dev: BlockDevice,
    private readonly pins: Uint8Array,
    private readonly kind: BioKind,
    private readonly dir: 0 | 1,
    private readonly max: number,
  ) {
    this.pfn = new Int32Array(max);
    this.first = new Uint8Array(max);
    this.last = new Uint8Array(max);
  }

  /** Adds sectors first..last of page `pfn`, at disk `sector`; pins the page until its bio completes. */
  add(pfn: number, sector: number, first: number, last: number, tag = -1): void {
    const n = this.n;
    if (n > 0 && (sector !== this.next || n >= this.max || pfn === this.pfn[n - 1] || tag !== this.tag)) {
      this.flush();
    }
    const k = this.n;
    if (k === 0) {
      this.start = sector;
      this.tag = tag;
    }
    this.pfn[k] = pfn;
    this.first[k] = first;
    this.last[k] = last;
    this.n = k + 1;
    this.next = sector + last - first + 1;
    this.pins[pfn]!++;
  }

  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    this.dev.submit(this.kind, this.dir, this.tag, this.start, this.pfn, this.first, this.last, n);
  }
}

/** What the OS model did, by mechanism: for summaries and tests (the stream does not depend on it). */
export interface OsCounters {
  /** Pages cleared by the zero page thread. */
  zeroedPages: number;
  /** Pages swapped out and read back in. */
  swapOutPages: number;
  swapInPages: number;
  /** Image pages modified in place after being read (relocation). */
  relocatedPages: number;
  /** Page cache pages filled only partly from disk. */
  partialPages: number;
  /** Pages read and written with O_DIRECT into / from process memory. */
  directReadPages: number;
  directWritePages: number;
  /** Pages handed to / back from the balloon. */
  balloonedPages: number;
  /** Processes killed by the OOM killer. */
  oomKills: number;
  journalCommits: number;
  filesCreated: number;
  filesDeleted: number;
}

export interface GuestOsOptions {
  readonly params: GuestParams;
  readonly pages: number;
  readonly layout: DiskLayout;
  readonly swapBytes: number;
  readonly em: Emitter;
  readonly rng: Prng;
  readonly ioRng: Prng;
}

export class GuestOs implements BioOwner {
  readonly params: GuestParams;
  readonly pages: number;
  readonly rng: Prng;
  readonly em: Emitter;
  readonly fs: FileSystem;
  readonly dev: BlockDevice;
  /** Guest time, in operations. */
  now = 0;
  readonly counters: OsCounters = {
    zeroedPages: 0,
    swapOutPages: 0,
    swapInPages: 0,
    relocatedPages: 0,
    partialPages: 0,
    directReadPages: 0,
    directWritePages: 0,
    balloonedPages: 0,
    oomKills: 0,
    journalCommits: 0,
    filesCreated: 0,
    filesDeleted: 0,
  };

  // Per page.
  private readonly kind: Uint8Array;
  private readonly flags: Uint8Array;
  private readonly flags2: Uint8Array;
  private readonly pins: Uint8Array;
  /** CACHE: file id (-1 metadata); ANON: pid. */
  private readonly owner: Int32Array;
  /** CACHE: cache key (block); ANON: swap slot holding an unmodified copy, or -1. */
  private readonly key: Int32Array;
  /** CACHE: page index in the file. */
  private readonly idx: Int32Array;
  /** When a dirty page was first dirtied. */
  private readonly when: Int32Array;
  private readonly lru: IndexLists;
  /** Dirty page cache pages, in the order they were dirtied. */
  private readonly dirtyList: IndexLists;
  /** Block -> pfn of the page cache page it starts, or -1. */
  private readonly cache: Int32Array;

  // Swap.
  readonly swapStart: number;
  readonly swapSlots: number;
  private readonly slotOwner: Int32Array;
  private readonly slotPfn: Int32Array;
  private readonly slotUsed: Uint8Array;
  private readonly slotIo: Uint8Array;
  /** Per process: its swapped-out slots. */
  private readonly slotLists: IndexLists;
  private swapCursor = 0;
  private swapUsed = 0;

  // Processes.
  private readonly procAlive = new Uint8Array(MAX_PROCS);
  private readonly procLocked = new Uint8Array(MAX_PROCS);
  private readonly procRss = new Int32Array(MAX_PROCS);
  private readonly procSwapped = new Int32Array(MAX_PROCS);
  private readonly procCursor = new Int32Array(MAX_PROCS);
  private readonly pidFree = new Int32Array(MAX_PROCS);
  /** Processes whose memory can be swapped, densely, and each one's index there. */
  private readonly swappable = new Int32Array(MAX_PROCS);
  private readonly swappablePos = new Int32Array(MAX_PROCS);
  private nSwappable = 0;
  /** Resident anonymous pages that could be swapped. */
  private anonResident = 0;
  private nPidFree = MAX_PROCS;
  /** Long-running services started at boot. */
  readonly services: number[] = [];

  // Kernel memory.
  private kernelPfns: Int32Array;
  private nKernel = 0;
  private kernelFixed = 0;
  /** Firmware pages, then kernel pages: kernelPfns[0, kernelCore). */
  private reservedPages = 0;
  private kernelCore = 0;
  private readonly slabMax: number;
  private slabCredit = 0;
  private readonly jbufs: Int32Array;
  private jbufNext = 0;

  // Journal.
  private tx = new Int32Array(256);
  private nTx = 0;
  private journalHead = 0;

  // Files.
  /** The installed system's files, hottest first (boot order). */
  readonly systemFiles: Int32Array;
  private readonly bootFiles: number;
  private readonly imageFile: number;

  // Builders.
  private readonly rdB: BioBuilder;
  private readonly metaB: BioBuilder;
  private readonly wbB: BioBuilder;
  private readonly swOutB: BioBuilder;
  private readonly swInB: BioBuilder;
  private readonly jB: BioBuilder;
  private readonly drB: BioBuilder;
  private readonly dwB: BioBuilder;
  private readonly ldB: BioBuilder;
  private readonly rdPfn: Int32Array;
  private readonly rdIdx: Int32Array;

  // Thresholds.
  private readonly minFree: number;
  private readonly lowFree: number;
  private readonly highFree: number;
  private readonly fileMin: number;
  private readonly bgDirty: number;
  private readonly balloonMax: number;
  private readonly dirtyExpire: number;
  /** Memory available to the OS relative to 1 GiB (at most 1): sizes boot-time activity. */
  readonly scale: number;
  /** Memory left for the OS to use (all but firmware, kernel and I/O buffers), and swap space, in bytes. */
  readonly usableBytes: number;
  readonly swapBytes: number;

  constructor(o: GuestOsOptions) {
    const P = o.params;
    const pages = o.pages;
    this.params = P;
    this.pages = pages;
    this.rng = o.rng;
    this.em = o.em;
    this.kind = new Uint8Array(pages);
    this.flags = new Uint8Array(pages);
    this.flags2 = new Uint8Array(pages);
    this.pins = new Uint8Array(pages);
    this.owner = new Int32Array(pages).fill(-1);
    this.key = new Int32Array(pages).fill(-1);
    this.idx = new Int32Array(pages);
    this.when = new Int32Array(pages);
    this.lru = new IndexLists(pages, LISTS);
    this.dirtyList = new IndexLists(pages, 1);
    for (let i = 0; i < MAX_PROCS; i++) this.pidFree[i] = MAX_PROCS - 1 - i;

    // Disk: file system and swap area.
    const L = o.layout;
    this.fs = new FileSystem(P.fs, L.fsStart, L.fsSectors);
    this.cache = new Int32Array(this.fs.blocks).fill(-1);
    this.swapSlots = Math.floor(L.swapSectors / 8);
    this.swapStart = L.swapStart;
    if (P.fs.swap === 'file' && this.swapSlots > 0) {
      const blocks = (this.swapSlots * 8) / this.fs.spb;
      const first = this.fs.reserveTail(blocks);
      if (this.fs.sectorOf(first) !== L.swapStart) throw new Error('swap file layout mismatch');
    }
    this.slotOwner = new Int32Array(this.swapSlots).fill(-1);
    this.slotPfn = new Int32Array(this.swapSlots).fill(-1);
    this.slotUsed = new Uint8Array(this.swapSlots);
    this.slotIo = new Uint8Array(this.swapSlots);
    this.slotLists = new IndexLists(this.swapSlots, MAX_PROCS);

    // Memory layout: firmware, kernel, bounce pool and journal buffers; the rest is free.
    const M = P.mem;
    // In a guest too small for them, firmware, buffers and kernel shrink to fit (smaller video memory,
    // fewer drivers, smaller pools): together at most KERNEL_CAP of memory.
    const reserved = Math.min(Math.ceil(M.reservedBytes / PAGE), Math.floor(pages * 0.12));
    // Bounce buffers, for the I/O path's copies and the firmware loader's reads.
    const needsBounce = P.io.bounceRate > 0 || P.io.dmaLimitBytes > 0 || P.boot.loader === 'firmware';
    const bounce = needsBounce
      ? Math.max(Math.min(P.io.bouncePoolPages, Math.floor(pages * 0.02)), P.io.maxSegments, 8)
      : 0;
    const kernel = Math.min(
      Math.ceil(M.kernelBytes / PAGE + pages * M.memmapFraction),
      Math.floor(pages * KERNEL_CAP) - reserved - bounce - JOURNAL_BUFFERS,
    );
    const fixed = reserved + kernel + bounce + JOURNAL_BUFFERS;
    if (kernel < 256) throw new RangeError(`${pages} pages are too few for this guest kind`);
    this.slabMax = Math.floor(pages * M.slabMaxFraction);
    this.kernelPfns = new Int32Array(fixed + this.slabMax);
    for (let p = 0; p < reserved + kernel; p++) this.takeKernel(p);
    this.reservedPages = reserved;
    this.kernelCore = reserved + kernel;
    const pool = new Int32Array(bounce);
    for (let i = 0; i < bounce; i++) pool[i] = this.takeKernel(reserved + kernel + i);
    this.jbufs = new Int32Array(JOURNAL_BUFFERS);
    for (let i = 0; i < JOURNAL_BUFFERS; i++) this.jbufs[i] = this.takeKernel(reserved + kernel + bounce + i);
    this.kernelFixed = this.nKernel;
    // Free pages: the highest are handed out first (a last-in, first-out free list).
    for (let p = fixed; p < pages; p++) this.lru.pushHead(L_FREE, p);

    this.dev = new BlockDevice(P.io, o.em, this.pins, o.ioRng, this, pool);
    const seg = P.io.maxSegments;
    this.rdB = new BioBuilder(this.dev, this.pins, BioKind.CacheRead, 0, seg);
    this.metaB = new BioBuilder(this.dev, this.pins, BioKind.CacheRead, 0, seg);
    this.wbB = new BioBuilder(this.dev, this.pins, BioKind.Writeback, 1, seg);
    this.swOutB = new BioBuilder(this.dev, this.pins, BioKind.SwapOut, 1, seg);
    this.swInB = new BioBuilder(this.dev, this.pins, BioKind.SwapIn, 0, seg);
    this.jB = new BioBuilder(this.dev, this.pins, BioKind.Journal, 1, seg);
    this.drB = new BioBuilder(this.dev, this.pins, BioKind.DirectRead, 0, seg);
    this.dwB = new BioBuilder(this.dev, this.pins, BioKind.DirectWrite, 1, seg);
    this.ldB = new BioBuilder(this.dev, this.pins, BioKind.Loader, 0, seg);
    this.rdPfn = new Int32Array(Math.max(M.raMaxPages, 1) + 1);
    this.rdIdx = new Int32Array(Math.max(M.raMaxPages, 1) + 1);

    const usable = pages - fixed;
    this.scale = Math.min(1, (usable * PAGE) / GIB);
    this.usableBytes = usable * PAGE;
    this.swapBytes = this.swapSlots * PAGE;
    this.minFree = Math.max(16, Math.floor(usable * M.lowWatermarkFraction * 0.5));
    this.lowFree = Math.max(32, Math.floor(usable * M.lowWatermarkFraction));
    this.highFree = Math.floor(this.lowFree * 1.5);
    this.fileMin = Math.floor(usable * 0.02);
    this.bgDirty = Math.floor(usable * M.dirtyBackgroundFraction);
    this.balloonMax = M.balloon ? Math.floor(pages * M.balloonMaxFraction) : 0;
    this.dirtyExpire = M.dirtyExpire;

    // The installed system: files in boot order, the kernel image first.
    const B = P.boot;
    const sys: number[] = [];
    this.imageFile = this.populateOne(B.imageBytes, FileFlag.Image, 0);
    let total = 0;
    let bootFiles = 0;
    while (total < B.systemBytes) {
      const bytes = Math.min(32 << 20, Math.max(200, Math.round(this.rng.logNormal(12 << 10, 1.6))));
      const flags = this.rng.chance(B.imageFileFraction) ? FileFlag.Image : 0;
      sys.push(this.populateOne(bytes, flags, this.rng.int(9)));
      total += bytes;
      if (total <= B.readBytes * this.scale) bootFiles = sys.length;
    }
    this.systemFiles = Int32Array.from(sys);
    this.bootFiles = bootFiles;
  }

  /** Bytes of typed arrays the model holds (pages, blocks, swap slots, files). */
  get byteLength(): number {
    const perPage =
      this.kind.byteLength * 4 + this.owner.byteLength * 4 + this.lru.byteLength + this.dirtyList.byteLength;
    const swap = this.slotOwner.byteLength * 2 + this.slotUsed.byteLength * 2 + this.slotLists.byteLength;
    return perPage + this.cache.byteLength + this.fs.byteLength + swap + this.em.byteLength;
  }

  /** Pages by what they hold now: for summaries and tests. */
  census(): {
    free: number;
    kernel: number;
    cache: number;
    dirty: number;
    anon: number;
    balloon: number;
    inflight: number;
    swapUsed: number;
  } {
    const c = [0, 0, 0, 0, 0, 0];
    for (let p = 0; p < this.pages; p++) c[this.kind[p]!]!++;
    return {
      free: c[FREE]!,
      kernel: c[KERNEL]!,
      cache: c[CACHE]!,
      dirty: this.dirtyList.size(0),
      anon: c[ANON]!,
      balloon: c[BALLOON]!,
      inflight: this.dev.inflight,
      swapUsed: this.swapUsed,
    };
  }

  private takeKernel(p: number): number {
    this.kind[p] = KERNEL;
    this.kernelPfns[this.nKernel++] = p;
    return p;
  }

  // ---------------------------------------------------------------- boot and background

  /**
   * Boots: the kernel image is written into memory (by the toolstack, or read by the firmware loader
   * through a bounce buffer), firmware and kernel memory is initialised, the boot prefetcher (if any)
   * reads ahead, services start and read their part of the system.
   */
  boot(): void {
    const B = this.params.boot;
    for (let i = 0; i < this.kernelFixed; i++) this.em.memWrite(this.kernelPfns[i]!);
    if (B.loader === 'firmware') this.firmwareLoad(this.imageFile);
    if (B.prefetchBytes > 0) {
      let bytes = 0;
      for (let i = 0; i < this.systemFiles.length && bytes < B.prefetchBytes * this.scale; i++) {
        const f = this.systemFiles[i]!;
        this.prefetch(f);
        bytes += this.fs.fBytes[f]!;
      }
    }
    // A guest smaller than 1 GiB runs fewer, smaller services and reads less of its system at boot.
    const scale = this.scale;
    const per = B.services > 0 ? Math.floor((B.serviceBytes * scale) / B.services) : 0;
    for (let s = 0; s < B.services; s++) {
      const pid = this.spawn(per);
      this.services.push(pid);
    }
    for (let i = 0; i < this.bootFiles; i++) {
      const pid = this.services[i % Math.max(1, this.services.length)] ?? -1;
      const f = this.systemFiles[i]!;
      if (this.fs.fFlags[f]! & FileFlag.Image) this.mapFile(f);
      else this.readAll(f, pid);
      if ((i & 15) === 15) this.tick();
    }
  }

  /** The BIOS loader reads file `f` in pieces into its buffer and copies them into kernel memory. */
  private firmwareLoad(f: number): void {
    const n = this.fs.fPages[f]!;
    for (let i = 0; i < n; i++) {
      const key = this.fs.pageKey(f, i);
      const p = this.kernelPfns[this.reservedPages + (i % (this.kernelCore - this.reservedPages))]!;
      this.ldB.add(p, this.fs.sectorOf(key), 0, this.fs.pgBlocks * this.fs.spb - 1);
      if ((i & 7) === 7 || i === n - 1) {
        this.ldB.flush();
        this.dev.waitPage(p);
      }
    }
  }

  /**
   * `n` units of guest time pass (one per guest operation; an idle stretch is several at once): I/O
   * completes, reclaim, writeback, journal commits, page zeroing, the balloon, kernel housekeeping.
   */
  tick(n = 1): void {
    const before = this.now;
    const now = (this.now += n);
    const M = this.params.mem;
    this.dev.progress(n);
    if (this.nFree() < this.lowFree) {
      if (this.lru.size(L_BALLOON) > 0) this.deflate(this.highFree - this.nFree());
      else this.reclaim(this.highFree - this.nFree());
    }
    if (crossed(before, now, M.writebackInterval) || this.dirtyList.size(0) > this.bgDirty) this.flusher();
    if (crossed(before, now, this.params.fs.commitInterval)) this.commit();
    if (M.zeroFreedPages) {
      for (let k = M.zeroPerTick * n; k > 0; k--) {
        const p = this.lru.popTail(L_FREE);
        if (p < 0) break;
        this.em.memWrite(p);
        this.lru.pushHead(L_ZERO, p);
        this.counters.zeroedPages++;
      }
    }
    if (this.balloonMax > 0 && crossed(before, now, BALLOON_INTERVAL)) this.selfBalloon();
    // Kernel data (not the I/O buffers in between): the core kernel pages, then its caches.
    const buffers = this.kernelFixed - this.kernelCore;
    let w = Math.min(M.kernelWritesPerTick * n, this.nKernel);
    while (w >= 1 || (w > 0 && this.rng.chance(w))) {
      const r = this.rng.int(this.nKernel - buffers);
      this.em.memWrite(this.kernelPfns[r < this.kernelCore ? r : r + buffers]!);
      w--;
    }
  }

  // ---------------------------------------------------------------- files

  /** Creates a file of `bytes` already on disk (no I/O): the installed system and data sets. */
  populateOne(bytes: number, flags = 0, gap = 0): number {
    const resident = bytes <= this.params.fs.residentBytes ? FileFlag.Resident : 0;
    const f = this.fs.newFile(flags | resident);
    this.fs.grow(f, bytes, gap);
    return f;
  }

  /** `count` files of sizes from `size()`, already on disk. */
  populate(count: number, size: () => number, flags = 0): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++)
      out[i] = this.populateOne(Math.max(1, Math.round(size())), flags, this.rng.int(5));
    return out;
  }

  /** A system file, skewed towards the hot (boot) set. */
  systemFile(skew = 3): number {
    return this.systemFiles[this.rng.skewed(this.systemFiles.length, skew)]!;
  }

  filePages(f: number): number {
    return this.fs.fPages[f]!;
  }

  fileBytes(f: number): number {
    return this.fs.fBytes[f]!;
  }

  fileAlive(f: number): boolean {
    return this.fs.alive(f);
  }

  /**
   * Reads pages [page, page + n) of file `f` through the page cache (readahead on misses) and copies
   * them to process `pid`'s buffer (pid -1: no copy, e.g. the kernel or a memory-mapped access).
   */
  read(f: number, page: number, n: number, pid: number): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    this.metaAccess(fs.inodeBlock(f), false);
    const np = fs.fPages[f]!;
    const end = Math.min(np, page + n);
    const M = this.params.mem;
    let i = page;
    while (i < end) {
      const key = fs.pageKey(f, i);
      const p = this.cache[key]!;
      if (p >= 0) {
        this.touchCache(p);
        i++;
        continue;
      }
      // A miss: read a window ahead, larger while the reader stays sequential.
      const sequential = fs.raNext[f] === i;
      const want = end - i;
      let win: number;
      if (sequential) win = Math.min(M.raMaxPages, Math.max(fs.raWin[f]! * 2, want));
      else {
        const r = 1 << Math.ceil(Math.log2(Math.max(1, want)));
        win = Math.min(M.raMaxPages, Math.max(M.raInitPages, r <= M.raMaxPages / 32 ? r * 4 : r * 2));
      }
      const stop = Math.min(np, i + Math.max(1, win));
      this.readRange(f, i, stop);
      fs.raNext[f] = stop;
      fs.raWin[f] = win;
      for (; i < stop && i < end; i++) {
        const q = this.cache[fs.pageKey(f, i)]!;
        if (q >= 0) this.touchCache(q);
      }
    }
    if (pid >= 0 && np > 0 && !(fs.fFlags[f]! & FileFlag.Resident)) this.userCopy(pid, end - page);
    if (fs.fFlags[f]! & FileFlag.Resident && pid >= 0) this.userCopy(pid, 1);
  }

  readAll(f: number, pid: number): void {
    if (!this.fs.alive(f)) return;
    this.read(f, 0, Math.max(1, this.fs.fPages[f]!), pid);
  }

  /** A program or library is mapped and its pages are faulted in (no copy to a buffer). */
  mapFile(f: number, fraction = 1): void {
    if (!this.fs.alive(f)) return;
    const n = this.fs.fPages[f]!;
    this.read(f, 0, Math.max(1, Math.ceil(n * fraction)), -1);
  }

  /** Reads all of file `f` into the page cache in large requests, ahead of use (a prefetcher). */
  prefetch(f: number): void {
    const np = this.fs.fPages[f]!;
    const chunk = this.rdPfn.length - 1;
    for (let i = 0; i < np; i += chunk) this.readRange(f, i, Math.min(np, i + chunk));
  }

  /** Allocates page cache pages for the uncached pages in [a, b) of `f` and reads them. */
  private readRange(f: number, a: number, b: number): void {
    const fs = this.fs;
    let m = 0;
    for (let i = a; i < b; i++) {
      const key = fs.pageKey(f, i);
      if (this.cache[key]! >= 0) continue;
      const p = this.allocPage(false);
      if (!fs.alive(f)) {
        this.toFree(p);
        return;
      }
      this.insertCache(p, f, i, key, 0);
      this.rdPfn[m] = p;
      this.rdIdx[m] = i;
      m++;
    }
    const spb = fs.spb;
    for (let j = 0; j < m; j++) {
      const p = this.rdPfn[j]!;
      const i = this.rdIdx[j]!;
      if (this.kind[p] !== CACHE || this.owner[p] !== f || this.idx[p] !== i) continue;
      const key = fs.pageKey(f, i);
      const nb = fs.pgBlocks;
      if (fs.pgContig) {
        const sectors = nb * spb;
        if (sectors < 8) this.flags[p]! |= PARTIAL;
        this.rdB.add(p, fs.sectorOf(key), 0, sectors - 1, f);
      } else {
        // Blocks scattered on disk: one sub-page read per run of consecutive blocks (buffer heads).
        this.flags[p]! |= PARTIAL;
        let s = 0;
        while (s < nb) {
          let e = s + 1;
          while (e < nb && fs.pgPhys[e] === fs.pgPhys[s]! + (e - s)) e++;
          this.rdB.add(p, fs.sectorOf(fs.pgPhys[s]!), s * spb, e * spb - 1, f);
          this.rdB.flush();
          s = e;
        }
      }
    }
    this.rdB.flush();
  }

  /**
   * Writes pages [page, page + n) of `f` from a process's buffer (reading it is invisible to the
   * hypervisor) through the page cache, dirtying the pages for later writeback. The file grows if needed.
   */
  write(f: number, page: number, n: number, _pid: number): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    if ((page + n) * PAGE > fs.fBytes[f]!) this.extend(f, (page + n) * PAGE);
    const end = Math.min(fs.fPages[f]!, page + n);
    for (let i = page; i < end; i++) {
      const key = fs.pageKey(f, i);
      let p = this.cache[key]!;
      if (p < 0) {
        p = this.allocPage(false);
        if (!fs.alive(f)) {
          this.toFree(p);
          return;
        }
        this.insertCache(p, f, i, key, UPTODATE);
      } else this.touchCache(p);
      if (this.cpuWriteCache(p)) this.markDirty(p);
    }
    this.metaAccess(fs.inodeBlock(f), true);
  }

  /** Appends `bytes` to `f` (a partly filled last page is read first unless cached). */
  append(f: number, bytes: number, pid: number): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    const old = fs.fBytes[f]!;
    const resident = (fs.fFlags[f]! & FileFlag.Resident) !== 0;
    if (resident && old + bytes <= this.params.fs.residentBytes) {
      fs.fBytes[f] = old + bytes;
      this.metaAccess(fs.inodeBlock(f), true);
      return;
    }
    const last = Math.floor(old / PAGE);
    if (old % PAGE !== 0 && last < fs.fPages[f]! && !resident) {
      if (this.cache[fs.pageKey(f, last)]! < 0) {
        this.readRange(f, last, last + 1);
        const p = this.cache[fs.pageKey(f, last)]!;
        if (p >= 0) this.dev.waitPage(p);
      }
    }
    if (resident) fs.fFlags[f] = fs.fFlags[f]! & ~FileFlag.Resident;
    this.extend(f, old + bytes);
    const first = resident ? 0 : last;
    this.write(f, first, fs.fPages[f]! - first, pid);
  }

  private extend(f: number, bytes: number): void {
    const fs = this.fs;
    if (this.dev.discards > 0) this.dev.drain(BioKind.Discard);
    const before = fs.fBlocks[f]!;
    fs.grow(f, bytes);
    if (fs.fBlocks[f]! > before) this.metaAccess(fs.bitmapBlock(fs.phys(f, fs.fBlocks[f]! - 1)), true);
  }

  /** Creates a file of `bytes` and (unless `write` is false) writes its content through the cache. */
  create(bytes: number, pid: number, flags = 0, write = true): number {
    const fs = this.fs;
    const resident = bytes <= this.params.fs.residentBytes ? FileFlag.Resident : 0;
    const f = fs.newFile(flags | resident);
    this.counters.filesCreated++;
    this.metaAccess(fs.dirBlock(f), true);
    this.metaAccess(fs.inodeBlock(f), true);
    this.slabCharge();
    if (resident) {
      fs.grow(f, bytes);
      return f;
    }
    this.extend(f, bytes);
    if (write && fs.fPages[f]! > 0) this.write(f, 0, fs.fPages[f]!, pid);
    return f;
  }

  /** Deletes `f`: its cached pages are dropped (waiting for their I/O), its blocks freed and discarded. */
  remove(f: number): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    this.counters.filesDeleted++;
    const np = fs.fPages[f]!;
    for (let i = 0; i < np; i++) {
      const key = fs.pageKey(f, i);
      const p = this.cache[key]!;
      if (p < 0) continue;
      if (this.pins[p]! > 0) this.dev.waitPage(p);
      if (this.cache[key] === p) this.dropCachePage(p);
    }
    this.metaAccess(fs.dirBlock(f), true);
    this.metaAccess(fs.inodeBlock(f), true);
    const discard = this.params.fs.discard;
    const maxD = this.params.io.maxDiscardSectors;
    fs.remove(f);
    let lastBitmap = -1;
    for (let e = 0; e < fs.nFreed; e++) {
      const start = fs.freedStart[e]!;
      const bm = fs.bitmapBlock(start);
      if (bm !== lastBitmap) this.metaAccess(bm, true);
      lastBitmap = bm;
      if (!discard) continue;
      let s = fs.sectorOf(start);
      let left = fs.freedLen[e]! * fs.spb;
      while (left > 0) {
        const c = Math.min(left, maxD);
        this.dev.discard(s, c);
        s += c;
        left -= c;
      }
    }
  }

  /** Writes `f`'s dirty pages and the journal, and waits for them (fsync). */
  fsync(f: number): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    const np = fs.fPages[f]!;
    for (let i = 0; i < np; i++) {
      const p = this.cache[fs.pageKey(f, i)]!;
      if (p >= 0 && this.flags[p]! & DIRTY && this.pins[p] === 0) this.writePage(p, this.wbB);
    }
    this.wbB.flush();
    this.commit();
    for (let i = 0; i < np; i++) {
      const p = this.cache[fs.pageKey(f, i)]!;
      if (p >= 0 && this.pins[p]! > 0) this.dev.waitPage(p);
    }
  }

  // ---------------------------------------------------------------- page cache internals

  private insertCache(p: number, f: number, i: number, key: number, flags: number): void {
    this.kind[p] = CACHE;
    this.owner[p] = f;
    this.idx[p] = i;
    this.key[p] = key;
    this.flags[p] = flags;
    this.flags2[p] = 0;
    this.cache[key] = p;
    this.lru.pushHead(L_INACTIVE, p);
  }

  /** A page cache access: a second access promotes an inactive page to the active list. */
  private touchCache(p: number): void {
    const f = this.flags[p]!;
    if (f & REF && this.lru.listOf(p) === L_INACTIVE) {
      this.flags[p] = f & ~REF;
      this.lru.moveToHead(L_ACTIVE, p);
    } else this.flags[p] = f | REF;
  }

  private dropCachePage(p: number): void {
    this.cache[this.key[p]!] = -1;
    if (this.flags[p]! & DIRTY) this.dirtyList.remove(p);
    this.lru.remove(p);
    this.toFree(p);
  }

  /** The CPU modifies page cache page `p`; waits if a read into it is in flight. False if it went away. */
  private cpuWriteCache(p: number): boolean {
    if (this.pins[p]! > 0 && !(this.flags[p]! & UPTODATE)) {
      this.dev.waitPage(p);
      if (this.kind[p] !== CACHE) return false;
    }
    // Pages under writeback may be modified meanwhile (no stable pages): the write races the DMA.
    this.em.memWrite(p);
    return true;
  }

  private markDirty(p: number): void {
    const f = this.flags[p]!;
    if (f & DIRTY) return;
    this.flags[p] = f | DIRTY;
    this.when[p] = this.now;
    this.dirtyList.pushTail(0, p);
  }

  /**
   * Metadata block `block` (bitmap, inode / MFT record, directory) is read through the cache (waiting
   * for it) and, if `modify`, changed in memory and added to the running journal transaction.
   */
  private metaAccess(block: number, modify: boolean): void {
    const fs = this.fs;
    const bpp = fs.bpp;
    const key = block - (block % bpp);
    let p = this.cache[key]!;
    if (p < 0) {
      p = this.allocPage(false);
      this.insertCache(p, -1, 0, key, META);
      const j = block - key;
      // A 1 KiB-block file system reads a metadata block alone: a sub-page read into the page.
      if (bpp === 1) this.metaB.add(p, fs.sectorOf(key), 0, 7);
      else this.metaB.add(p, fs.sectorOf(block), j * fs.spb, (j + 1) * fs.spb - 1);
      this.metaB.flush();
      this.dev.waitPage(p);
      if (this.kind[p] !== CACHE) return;
    } else {
      this.touchCache(p);
      if (!(this.flags[p]! & UPTODATE)) {
        this.dev.waitPage(p);
        if (this.kind[p] !== CACHE || this.cache[key] !== p) return;
      }
    }
    if (!modify) return;
    if (!this.cpuWriteCache(p)) return;
    this.markDirty(p);
    if (!(this.flags2[p]! & IN_TX)) {
      this.flags2[p]! |= IN_TX;
      if (this.nTx === this.tx.length) {
        const t = new Int32Array(this.tx.length * 2);
        t.set(this.tx);
        this.tx = t;
      }
      this.tx[this.nTx++] = p;
    }
  }

  /** Queues dirty page cache page `p` for writeback in builder `b`. */
  private writePage(p: number, b: BioBuilder): void {
    const fs = this.fs;
    this.dirtyList.remove(p);
    const f = this.flags[p]!;
    this.flags[p] = (f & ~DIRTY) | WRITEBACK;
    const key = this.key[p]!;
    if (f & META) {
      const unit = this.params.fs.metaWriteSectors > 0 ? this.params.fs.metaWriteSectors : fs.spb;
      if (unit >= 8) b.add(p, fs.sectorOf(key), 0, 7);
      else {
        // Only the changed record / block goes to disk: a sub-page write.
        const r = this.rng.int(8 / unit);
        b.add(p, fs.sectorOf(key) + r * unit, r * unit, r * unit + unit - 1);
      }
      return;
    }
    if (fs.bpp === 1) {
      b.add(p, fs.sectorOf(key), 0, 7);
      return;
    }
    const file = this.owner[p]!;
    fs.pageKey(file, this.idx[p]!);
    const nb = fs.pgBlocks;
    if (fs.pgContig) {
      b.add(p, fs.sectorOf(key), 0, nb * fs.spb - 1);
      return;
    }
    let s = 0;
    while (s < nb) {
      let e = s + 1;
      while (e < nb && fs.pgPhys[e] === fs.pgPhys[s]! + (e - s)) e++;
      b.add(p, fs.sectorOf(fs.pgPhys[s]!), s * fs.spb, e * fs.spb - 1);
      s = e;
    }
  }

  /** Background writeback: pages dirty for longer than dirtyExpire, or more while too many are dirty. */
  private flusher(): void {
    const M = this.params.mem;
    let budget = M.writebackChunk;
    const over = this.dirtyList.size(0) > this.bgDirty;
    while (budget-- > 0) {
      const p = this.dirtyList.head(0);
      if (p < 0) break;
      if (!over && this.now - this.when[p]! < this.dirtyExpire) break;
      if (this.pins[p]! > 0) {
        // Still under I/O: retry on a later run.
        this.dirtyList.moveToTail(0, p);
        this.when[p] = this.now;
        continue;
      }
      this.writePage(p, this.wbB);
    }
    this.wbB.flush();
  }

  /** Commits the running journal transaction. */
  private commit(): void {
    if (this.nTx === 0) return;
    const fs = this.fs;
    const F = this.params.fs;
    if (F.journal === 'blocks') {
      // jbd2: descriptor block, each changed metadata block (from the page itself), commit block.
      this.journalBlock(this.jbuf(), 0);
      for (let t = 0; t < this.nTx; t++) {
        const p = this.tx[t]!;
        if (!(this.flags2[p]! & IN_TX)) continue;
        this.flags2[p]! &= ~IN_TX;
        if (this.kind[p] !== CACHE || !(this.flags[p]! & META)) continue;
        this.journalBlock(p, fs.bpp === 1 ? 0 : this.rng.int(fs.bpp));
      }
      this.journalBlock(this.jbuf(), 0);
    } else {
      // A record log: the changes as records, written from log buffers, a sector at a time.
      let items = 0;
      for (let t = 0; t < this.nTx; t++) {
        const p = this.tx[t]!;
        if (!(this.flags2[p]! & IN_TX)) continue;
        this.flags2[p]! &= ~IN_TX;
        items++;
      }
      let sectors = Math.ceil((items * F.logRecordBytes + 64) / 512);
      const logSectors = fs.journalBlocks * fs.spb;
      while (sectors > 0) {
        const take = Math.min(sectors, 8);
        const pos = this.journalHead % logSectors;
        const n = Math.min(take, logSectors - pos);
        this.jB.add(this.jbuf(), fs.sectorOf(fs.journalStart) + pos, 0, n - 1);
        this.jB.flush();
        this.journalHead = (pos + n) % logSectors;
        sectors -= n;
      }
    }
    this.jB.flush();
    this.nTx = 0;
    this.counters.journalCommits++;
  }

  /** Writes one journal block from page `p` (block `j` of the page) at the journal head. */
  private journalBlock(p: number, j: number): void {
    const fs = this.fs;
    const pos = this.journalHead % fs.journalBlocks;
    this.journalHead = pos + 1;
    if (pos === 0) this.jB.flush();
    this.jB.add(p, fs.sectorOf(fs.journalStart + pos), j * fs.spb, (j + 1) * fs.spb - 1);
  }

  /** A journal buffer page, filled by the CPU. */
  private jbuf(): number {
    const p = this.jbufs[this.jbufNext]!;
    this.jbufNext = (this.jbufNext + 1) % this.jbufs.length;
    if (this.pins[p]! > 0) {
      this.jB.flush();
      this.dev.waitPage(p);
    }
    this.em.memWrite(p);
    return p;
  }

  // ---------------------------------------------------------------- memory

  private nFree(): number {
    return this.lru.size(L_FREE) + this.lru.size(L_ZERO);
  }

  private toFree(p: number): void {
    this.kind[p] = FREE;
    this.flags[p] = 0;
    this.flags2[p] = 0;
    this.owner[p] = -1;
    this.key[p] = -1;
    this.lru.pushHead(L_FREE, p);
  }

  private unpin(p: number): void {
    const n = this.pins[p]! - 1;
    this.pins[p] = n;
    if (n === 0 && this.kind[p] === ZOMBIE) this.toFree(p);
  }

  /**
   * A free page. `zero`: it must read as zeros (anonymous and kernel memory), which costs a CPU write
   * unless it comes from the zeroed list; otherwise its content is about to be overwritten by I/O or
   * a copy. Reclaims, deflates the balloon, waits for I/O or kills a process when memory runs out.
   */
  private allocPage(zero: boolean): number {
    for (let tries = 0; ; tries++) {
      if (this.nFree() <= this.minFree && tries === 0) {
        if (this.lru.size(L_BALLOON) > 0) this.deflate(this.highFree - this.nFree());
        else this.reclaim(32);
      }
      let p: number;
      let zeroed = false;
      if (zero) {
        p = this.lru.popHead(L_ZERO);
        if (p >= 0) zeroed = true;
        else p = this.lru.popHead(L_FREE);
      } else {
        p = this.lru.popHead(L_FREE);
        if (p < 0) p = this.lru.popHead(L_ZERO);
      }
      if (p >= 0) {
        this.flags[p] = 0;
        this.flags2[p] = 0;
        this.key[p] = -1;
        if (zero && !zeroed) this.em.memWrite(p);
        return p;
      }
      if (this.lru.size(L_BALLOON) > 0) {
        this.deflate(this.highFree);
        continue;
      }
      if (tries > 200 || (this.reclaim(32) === 0 && !this.dev.finishOldest())) {
        if (!this.oomKill())
          throw new Error('simulated guest ran out of memory with nothing left to reclaim');
      }
    }
  }

  /** Frees up to `target` pages: drops clean page cache, starts writeback and swap-out. */
  private reclaim(target: number): number {
    let freed = 0;
    let budget = target * 4 + 64;
    const swappiness = this.params.mem.swappiness;
    while (freed < target && budget-- > 0) {
      const file = this.lru.size(L_INACTIVE) + this.lru.size(L_ACTIVE);
      const anon = this.anonResident;
      const canSwap = anon > 0 && this.swapUsed < this.swapSlots;
      let useAnon: boolean;
      if (!canSwap) useAnon = false;
      else if (file <= this.fileMin) useAnon = true;
      else useAnon = this.rng.next() * (swappiness * anon + (200 - swappiness) * file) < swappiness * anon;
      if (!useAnon && file === 0) break;
      if (useAnon ? this.reclaimAnon() : this.reclaimFile()) freed++;
    }
    this.wbB.flush();
    this.swOutB.flush();
    return freed;
  }

  private reclaimFile(): boolean {
    const lru = this.lru;
    if (lru.size(L_ACTIVE) > lru.size(L_INACTIVE)) {
      const a = lru.popTail(L_ACTIVE);
      this.flags[a]! &= ~REF;
      lru.pushHead(L_INACTIVE, a);
    }
    const p = lru.tail(L_INACTIVE);
    if (p < 0) return false;
    const f = this.flags[p]!;
    if (this.pins[p]! > 0 || !(f & UPTODATE) || f & WRITEBACK) {
      lru.moveToHead(L_INACTIVE, p);
      return false;
    }
    if (f & DIRTY) {
      this.writePage(p, this.wbB);
      lru.moveToHead(L_INACTIVE, p);
      return false;
    }
    this.flags[p] = f & ~REF;
    this.dropCachePage(p);
    return true;
  }

  /**
   * Swaps out (or drops, if swap still holds an unmodified copy) the oldest unreferenced page of a
   * large process: the larger of two processes picked at random.
   */
  private reclaimAnon(): boolean {
    const n = this.nSwappable;
    if (n === 0) return false;
    let pid = this.swappable[this.rng.int(n)]!;
    const other = this.swappable[this.rng.int(n)]!;
    if (this.procRss[other]! > this.procRss[pid]!) pid = other;
    const lru = this.lru;
    const list = PROC + pid;
    const p = lru.head(list);
    if (p < 0) return false;
    const f = this.flags[p]!;
    if (this.pins[p]! > 0 || f & SWAPPING) {
      lru.moveToTail(list, p);
      return false;
    }
    if (f & REF) {
      this.flags[p] = f & ~REF;
      lru.moveToTail(list, p);
      return false;
    }
    const held = this.key[p]!;
    if (held >= 0 && !(f & DIRTY)) {
      // An unmodified copy is still in swap: drop the page.
      this.slotPfn[held] = -1;
      this.slotLists.pushHead(pid, held);
      this.procSwapped[pid]!++;
      this.dropAnon(p);
      return true;
    }
    const slot = this.allocSlot(pid);
    if (slot < 0) {
      lru.moveToTail(list, p);
      return false;
    }
    this.key[p] = slot;
    this.slotPfn[slot] = p;
    this.slotIo[slot]!++;
    this.flags[p] = (f | SWAPPING) & ~DIRTY;
    lru.moveToTail(list, p);
    this.swOutB.add(p, this.swapStart + slot * 8, 0, 7);
    this.counters.swapOutPages++;
    return false;
  }

  /** Takes anonymous page `p` from its process and frees it. */
  private dropAnon(p: number): void {
    const pid = this.owner[p]!;
    this.procRemove(pid, p);
    this.toFree(p);
  }

  private allocSlot(pid: number): number {
    const n = this.swapSlots;
    if (this.swapUsed >= n) return -1;
    let s = this.swapCursor;
    for (let tries = 0; tries < 2; tries++) {
      for (;;) {
        s = this.slotUsed.indexOf(0, s);
        if (s < 0) break;
        if (this.slotIo[s] === 0) {
          this.slotUsed[s] = 1;
          this.slotOwner[s] = pid;
          this.slotPfn[s] = -1;
          this.swapUsed++;
          this.swapCursor = s + 1;
          return s;
        }
        s++;
      }
      s = 0;
    }
    return -1;
  }

  private releaseSlot(s: number): void {
    if (!this.slotUsed[s]) return;
    this.slotLists.remove(s);
    this.slotUsed[s] = 0;
    this.slotOwner[s] = -1;
    this.slotPfn[s] = -1;
    this.swapUsed--;
  }

  /** Reads swapped-out pages of `pid` back (a fault, plus swap readahead); returns the faulting page. */
  private swapIn(pid: number): number {
    const lists = this.slotLists;
    const slot = this.rng.chance(0.5) ? lists.head(pid) : lists.tail(pid);
    if (slot < 0) return -1;
    let n = 1;
    const cluster = this.params.mem.pageCluster;
    while (
      n < cluster &&
      slot + n < this.swapSlots &&
      lists.listOf(slot + n) === pid &&
      this.slotIo[slot + n] === 0
    )
      n++;
    let firstPage = -1;
    for (let j = 0; j < n; j++) {
      const s = slot + j;
      if (lists.listOf(s) !== pid) break;
      const p = this.allocPage(false);
      if (!this.procAlive[pid] || lists.listOf(s) !== pid) {
        this.toFree(p);
        break;
      }
      lists.remove(s);
      this.slotPfn[s] = p;
      this.slotIo[s]!++;
      this.kind[p] = ANON;
      this.owner[p] = pid;
      this.key[p] = s;
      this.flags[p] = 0;
      this.procAdd(pid, p);
      this.procSwapped[pid]!--;
      this.swInB.add(p, this.swapStart + s * 8, 0, 7, s);
      this.counters.swapInPages++;
      if (firstPage < 0) firstPage = p;
    }
    this.swInB.flush();
    return firstPage;
  }

  /** Returns up to `n` balloon pages to the guest. */
  private deflate(n: number): void {
    const windows = this.params.mem.zeroFreedPages;
    for (let k = 0; k < n; k++) {
      const p = this.lru.popHead(L_BALLOON);
      if (p < 0) return;
      this.kind[p] = FREE;
      this.em.ioTouch(p);
      // The hypervisor hands back zeroed pages.
      this.lru.pushHead(windows ? L_ZERO : L_FREE, p);
    }
  }

  /** Self-ballooning: a share of memory that has stayed free goes back to the hypervisor. */
  private selfBalloon(): void {
    const spare = this.nFree() - Math.floor(this.pages * 0.15);
    const room = this.balloonMax - this.lru.size(L_BALLOON);
    const n = Math.min(room, Math.floor(spare / 4));
    if (n <= 0) return;
    const buf = new Uint32Array(Math.min(n, 512));
    let k = 0;
    for (let i = 0; i < n; i++) {
      let p = this.lru.popTail(L_FREE);
      if (p < 0) p = this.lru.popTail(L_ZERO);
      if (p < 0) break;
      this.kind[p] = BALLOON;
      this.lru.pushHead(L_BALLOON, p);
      this.counters.balloonedPages++;
      buf[k++] = p;
      if (k === buf.length) {
        this.em.release(buf, k);
        k = 0;
      }
    }
    this.em.release(buf, k);
  }

  /** The OOM killer: kills the process with the most memory. False if there is none to kill. */
  private oomKill(): boolean {
    let best = -1;
    let most = 0;
    for (let pid = 0; pid < MAX_PROCS; pid++) {
      if (!this.procAlive[pid]) continue;
      const size = this.procRss[pid]!;
      if (size > most) {
        most = size;
        best = pid;
      }
    }
    if (best < 0) return false;
    this.counters.oomKills++;
    this.exit(best);
    return true;
  }

  private slabCharge(): void {
    this.slabCredit += this.params.mem.slabBytesPerFile;
    while (this.slabCredit >= PAGE && this.nKernel - this.kernelFixed < this.slabMax) {
      this.slabCredit -= PAGE;
      const p = this.allocPage(true);
      this.kind[p] = KERNEL;
      this.kernelPfns[this.nKernel++] = p;
    }
    if (this.slabCredit >= PAGE) this.slabCredit = 0;
  }

  // ---------------------------------------------------------------- processes

  /** Starts a process with `bytes` of anonymous memory; `locked` memory is never swapped (mlock). */
  spawn(bytes: number, locked = false): number {
    if (this.nPidFree === 0) throw new Error(`more than ${MAX_PROCS} simulated processes`);
    const pid = this.pidFree[--this.nPidFree]!;
    this.procAlive[pid] = 1;
    this.procLocked[pid] = locked ? 1 : 0;
    this.procRss[pid] = 0;
    this.procSwapped[pid] = 0;
    this.procCursor[pid] = -1;
    if (!locked) {
      this.swappablePos[pid] = this.nSwappable;
      this.swappable[this.nSwappable++] = pid;
    }
    this.grow(pid, bytes);
    return pid;
  }

  /** Starts a program: maps (part of) its executable and libraries, then allocates its memory. */
  exec(files: ArrayLike<number>, bytes: number, locked = false): number {
    for (let i = 0; i < files.length; i++) this.mapFile(files[i]!, EXEC_MAP_FRACTION);
    this.slabCharge();
    return this.spawn(bytes, locked);
  }

  alive(pid: number): boolean {
    return pid >= 0 && pid < MAX_PROCS && this.procAlive[pid] === 1;
  }

  /** Resident pages of `pid`. */
  rss(pid: number): number {
    return this.alive(pid) ? this.procRss[pid]! : 0;
  }

  swapped(pid: number): number {
    return this.alive(pid) ? this.procSwapped[pid]! : 0;
  }

  /**
   * The process allocates and first-touches `bytes` more memory: pages come off the zeroed list (already
   * clear) or the free list (cleared now), both a write the hypervisor sees once.
   */
  grow(pid: number, bytes: number): void {
    let n = Math.ceil(bytes / PAGE);
    const lru = this.lru;
    const list = PROC + pid;
    const flags2 = this.procLocked[pid] ? LOCKED : 0;
    while (n > 0 && this.procAlive[pid]) {
      const spare = this.nFree() - this.minFree;
      if (spare <= 0) {
        // Short of memory: one page at a time, through reclaim.
        const p = this.allocPage(true);
        if (!this.procAlive[pid]) {
          this.toFree(p);
          return;
        }
        this.kind[p] = ANON;
        this.owner[p] = pid;
        this.flags[p] = DIRTY | REF;
        this.flags2[p] = flags2;
        this.procAdd(pid, p);
        this.em.memWrite(p);
        n--;
        continue;
      }
      const take = Math.min(n, spare);
      const fromZero = Math.min(take, lru.size(L_ZERO));
      let p = lru.moveHeadRun(L_ZERO, list, fromZero);
      if (p < 0) p = lru.moveHeadRun(L_FREE, list, take);
      else if (take > fromZero) lru.moveHeadRun(L_FREE, list, take - fromZero);
      const { kind, owner, key, flags, em } = this;
      const f2 = this.flags2;
      for (let k = 0; k < take && p >= 0; k++) {
        kind[p] = ANON;
        owner[p] = pid;
        key[p] = -1;
        flags[p] = DIRTY | REF;
        f2[p] = flags2;
        em.memWrite(p);
        p = lru.after(p);
      }
      this.procRss[pid]! += take;
      if (!flags2) this.anonResident += take;
      n -= take;
    }
  }

  /** The process frees its `bytes` most recently allocated memory (munmap, heap trim). */
  shrink(pid: number, bytes: number): void {
    if (!this.alive(pid)) return;
    const n = Math.ceil(bytes / PAGE);
    for (let k = 0; k < n; k++) {
      const p = this.lru.tail(PROC + pid);
      if (p < 0) return;
      this.freeAnon(pid, p);
    }
  }

  /**
   * The process writes `n` pages of its memory, sweeping through it; a page it touches that is swapped
   * out is faulted back in first.
   */
  touch(pid: number, n: number): void {
    if (!this.procAlive[pid]) return;
    const lru = this.lru;
    const list = PROC + pid;
    let c = this.procCursor[pid]!;
    for (let k = 0; k < n; k++) {
      const sw = this.procSwapped[pid]!;
      if (sw > 0 && this.rng.next() * (this.procRss[pid]! + sw) < sw) {
        this.procCursor[pid] = c;
        const p = this.swapIn(pid);
        if (p >= 0) this.writeAnon(p);
        if (!this.procAlive[pid]) return;
        c = this.procCursor[pid]!;
        continue;
      }
      let p = c >= 0 ? lru.after(c) : -1;
      if (p < 0) p = lru.head(list);
      if (p < 0) break;
      c = p;
      if (this.pins[p] === 0 && this.key[p] === -1) {
        // The common case, inline: an ordinary resident page.
        this.em.memWrite(p);
        this.flags[p]! |= DIRTY | REF;
      } else {
        this.procCursor[pid] = c;
        this.writeAnon(p);
        if (!this.procAlive[pid]) return;
        c = this.procCursor[pid]!;
      }
    }
    this.procCursor[pid] = c;
  }

  /** The process writes its `n` I/O buffer pages (a read() copying file data to user memory). */
  userCopy(pid: number, n: number): void {
    if (!this.alive(pid)) return;
    let p = this.lru.head(PROC + pid);
    const m = Math.min(n, USER_BUFFER_PAGES);
    for (let k = 0; k < m && p >= 0; k++) {
      const next = this.lru.after(p);
      this.writeAnon(p);
      p = next;
    }
  }

  /** The CPU writes anonymous page `p` (waits for I/O using it first, as a fault on a locked page would). */
  private writeAnon(p: number): void {
    if (this.pins[p]! > 0) {
      this.dev.waitPage(p);
      if (this.kind[p] !== ANON) return;
    }
    this.em.memWrite(p);
    this.flags[p]! |= DIRTY | REF;
    const held = this.key[p]!;
    if (held >= 0) {
      // The swap copy is stale now.
      this.releaseSlot(held);
      this.key[p] = -1;
    }
  }

  /** The process writes these pages of its memory (e.g. a database modifying buffers). */
  cpuWrite(pfns: ArrayLike<number>, from: number, n: number): void {
    for (let k = 0; k < n; k++) {
      const p = pfns[from + k]!;
      if (this.kind[p] === ANON) this.writeAnon(p);
    }
  }

  /** Copies `pid`'s pages, oldest first, into `out`; returns how many. */
  procPages(pid: number, out: Int32Array): number {
    let n = 0;
    for (let p = this.lru.head(PROC + pid); p >= 0 && n < out.length; p = this.lru.after(p)) out[n++] = p;
    return n;
  }

  private procAdd(pid: number, p: number): void {
    this.lru.pushTail(PROC + pid, p);
    this.procRss[pid]!++;
    if (!this.procLocked[pid]) this.anonResident++;
  }

  /** Takes page `p` off process `pid`'s list. */
  private procRemove(pid: number, p: number): void {
    if (this.procCursor[pid] === p) this.procCursor[pid] = this.lru.before(p);
    this.lru.remove(p);
    this.procRss[pid]!--;
    if (!this.procLocked[pid]) this.anonResident--;
  }

  private freeAnon(pid: number, p: number): void {
    this.procRemove(pid, p);
    const held = this.key[p]!;
    if (held >= 0 && this.slotIo[held] === 0) {
      this.releaseSlot(held);
      this.key[p] = -1;
    }
    if (this.pins[p]! > 0) this.kind[p] = ZOMBIE;
    else this.toFree(p);
  }

  /** The process exits: its memory is freed (pages under I/O once that completes), its swap released. */
  exit(pid: number): void {
    if (!this.alive(pid)) return;
    const lru = this.lru;
    const list = PROC + pid;
    const { kind, key, pins, slotIo } = this;
    for (let p = lru.head(list); p >= 0;) {
      const next = lru.after(p);
      const held = key[p]!;
      if (held >= 0 && slotIo[held] === 0) {
        this.releaseSlot(held);
        key[p] = -1;
      }
      if (pins[p]! > 0) {
        lru.remove(p);
        kind[p] = ZOMBIE;
      } else {
        // Flags and owner are reset when the page is allocated again; its swap slot is gone.
        kind[p] = FREE;
        key[p] = -1;
      }
      p = next;
    }
    // The freed pages go to the head of the free list, the first to be reused.
    lru.spliceToHead(list, L_FREE);
    for (let s = this.slotLists.head(pid); s >= 0; s = this.slotLists.head(pid)) this.releaseSlot(s);
    if (!this.procLocked[pid]) {
      this.anonResident -= this.procRss[pid]!;
      const i = this.swappablePos[pid]!;
      const last = this.swappable[--this.nSwappable]!;
      this.swappable[i] = last;
      this.swappablePos[last] = i;
    }
    this.procAlive[pid] = 0;
    this.procSwapped[pid] = 0;
    this.procRss[pid] = 0;
    const i = this.services.indexOf(pid);
    if (i >= 0) this.services.splice(i, 1);
    this.pidFree[this.nPidFree++] = pid;
  }

  // ---------------------------------------------------------------- O_DIRECT

  /** Reads pages [page, page + n) of `f` straight into process pages pfns[from..from+n) and waits. */
  directRead(f: number, page: number, n: number, pfns: ArrayLike<number>, from: number): void {
    this.direct(this.drB, f, page, n, pfns, from);
    this.counters.directReadPages += n;
    for (let k = 0; k < n; k++) this.dev.waitPage(pfns[from + k]!);
  }

  /** Writes process pages pfns[from..from+n) to pages [page, page + n) of `f` (asynchronously). */
  directWrite(f: number, page: number, n: number, pfns: ArrayLike<number>, from: number): void {
    this.direct(this.dwB, f, page, n, pfns, from);
    this.counters.directWritePages += n;
  }

  private direct(
    b: BioBuilder,
    f: number,
    page: number,
    n: number,
    pfns: ArrayLike<number>,
    from: number,
  ): void {
    const fs = this.fs;
    if (!fs.alive(f)) return;
    for (let k = 0; k < n; k++) if (this.pins[pfns[from + k]!]! > 0) this.dev.waitPage(pfns[from + k]!);
    const end = Math.min(fs.fPages[f]!, page + n);
    for (let i = page; i < end; i++) {
      const p = pfns[from + i - page]!;
      if (this.kind[p] !== ANON) continue;
      const key = fs.pageKey(f, i);
      if (fs.pgContig) b.add(p, fs.sectorOf(key), 0, fs.pgBlocks * fs.spb - 1);
      else
        for (let j = 0; j < fs.pgBlocks; j++)
          b.add(p, fs.sectorOf(fs.pgPhys[j]!), j * fs.spb, (j + 1) * fs.spb - 1);
    }
    b.flush();
  }

  /**
   * Writes `count` sectors (at most to the end of the page) from process page `pfn` to file `f` at
   * sector offset `offset`, with O_DIRECT: a sub-page write when count < 8 (a log record).
   */
  directWriteSectors(f: number, offset: number, count: number, pfn: number): void {
    const fs = this.fs;
    if (!fs.alive(f) || this.kind[pfn] !== ANON) return;
    const page = Math.floor(offset / 8);
    if (page >= fs.fPages[f]!) return;
    if (this.pins[pfn]! > 0) this.dev.waitPage(pfn);
    const o = offset % 8;
    const n = Math.min(count, 8 - o);
    const key = fs.pageKey(f, page);
    const within = o * 512;
    const block = Math.floor(within / fs.blockSize);
    const start = fs.sectorOf(fs.pgPhys[block] ?? key) + (o - block * fs.spb);
    const lastInBlock = Math.min(n, (block + 1) * fs.spb - o);
    this.dwB.add(pfn, start, o, o + lastInBlock - 1);
    this.dwB.flush();
  }

  // ---------------------------------------------------------------- completions

  bioDone(slot: number, ok: boolean): void {
    const d = this.dev;
    const kind = d.kind[slot]!;
    const base = slot * d.segCap;
    const n = d.nseg[slot]!;
    for (let k = 0; k < n; k++) {
      const p = d.pfn[base + k]!;
      switch (kind) {
        case BioKind.CacheRead:
          this.unpin(p);
          this.readDone(p, ok);
          break;
        case BioKind.Writeback:
          this.unpin(p);
          if (this.kind[p] === CACHE) {
            this.flags[p]! &= ~WRITEBACK;
            if (!ok) this.markDirty(p);
          }
          break;
        case BioKind.SwapOut:
          this.swapOutDone(p, ok);
          break;
        case BioKind.SwapIn: {
          const s = this.key[p]!;
          if (s >= 0) this.slotIo[s]!--;
          if (this.kind[p] === ZOMBIE && s >= 0) {
            this.releaseSlot(s);
            this.key[p] = -1;
          } else if (!ok && this.kind[p] === ANON && s >= 0) {
            // The data is lost; the page holds whatever the failed read left (the process would crash).
            this.releaseSlot(s);
            this.key[p] = -1;
            this.flags[p]! |= DIRTY;
          }
          this.unpin(p);
          break;
        }
        default:
          this.unpin(p);
      }
    }
  }

  private readDone(p: number, ok: boolean): void {
    if (this.kind[p] !== CACHE) return;
    if (!ok) this.flags[p]! |= ERR;
    if (this.pins[p]! > 0) return;
    const f = this.flags[p]!;
    if (f & ERR) {
      this.dropCachePage(p);
      return;
    }
    this.flags[p] = (f | UPTODATE) & ~PARTIAL;
    // The part of the page beyond the end of the file is cleared.
    if (f & PARTIAL) {
      this.em.memWrite(p);
      this.counters.partialPages++;
    }
    const file = this.owner[p]!;
    const M = this.params.mem;
    if (
      file >= 0 &&
      M.relocateRate > 0 &&
      this.fs.fFlags[file]! & FileFlag.Image &&
      this.rng.chance(M.relocateRate)
    ) {
      // The loader applies relocation fix-ups to the image page in place.
      this.em.memWrite(p);
      this.counters.relocatedPages++;
    }
  }

  private swapOutDone(p: number, ok: boolean): void {
    const s = this.key[p]!;
    if (s >= 0) this.slotIo[s]!--;
    if (this.kind[p] === ZOMBIE) {
      if (s >= 0) this.releaseSlot(s);
      this.key[p] = -1;
      this.unpin(p);
      return;
    }
    this.flags[p]! &= ~SWAPPING;
    this.unpin(p);
    if (this.kind[p] !== ANON || s < 0) return;
    const pid = this.owner[p]!;
    if (!ok || this.flags[p]! & DIRTY || this.pins[p]! > 0) {
      if (!ok) {
        this.releaseSlot(s);
        this.key[p] = -1;
        this.flags[p]! |= DIRTY;
      }
      return;
    }
    // Written out: the page leaves the process, the slot holds its content.
    this.slotPfn[s] = -1;
    this.slotLists.pushHead(pid, s);
    this.procSwapped[pid]!++;
    this.dropAnon(p);
  }
}
