/**
 * The few libc calls the bindings need: free (for libxenstore's results), a pipe's capacity, and mapping
 * a file's pages (mmap) so a whole-disk hash reads them where they lie in the page cache.
 */
import { readFileSync } from 'node:fs';
import { bytesAt, cfunc, check, library, type Ptr } from './load.ts';

const libc = () => library('libc.so.6', 'libc6');

let freeFn: ((p: Ptr) => void) | undefined;

export function cfree(p: Ptr): void {
  freeFn ??= cfunc<(p: Ptr) => void>(libc(), 'void free(void *p)');
  freeFn(p);
}

// fcntl is variadic: koffi takes each extra argument as a (type, value) pair.
type Fcntl = (fd: number, cmd: number, ...typedArgs: unknown[]) => number;
let fcntlFn: Fcntl | undefined;
const fcntl = (): Fcntl => (fcntlFn ??= cfunc<Fcntl>(libc(), 'int fcntl(int fd, int cmd, ...)'));

/** From <linux/fcntl.h>. */
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/** The capacity of the pipe (or FIFO) open at `fd`, in bytes. */
export function pipeCapacity(fd: number): number {
  return fcntl()(fd, F_GETPIPE_SZ);
}

/**
 * Grows the pipe at `fd` towards `bytes`, and returns the capacity it got. Linux gives a pipe 64 KiB,
 * so a reader of a large stream wakes (and under emulation, switches context) every 64 KiB. Beyond
 * /proc/sys/fs/pipe-max-size only a process with CAP_SYS_RESOURCE (dom0's root) may go: otherwise the
 * limit is taken. Never shrinks the pipe, and a refused size is no error: a small pipe is slower, not
 * wrong.
 */
export function growPipe(fd: number, bytes: number): number {
  const before = pipeCapacity(fd);
  if (before < 0 || before >= bytes) return before;
  if (fcntl()(fd, F_SETPIPE_SZ, 'int', bytes) < 0) {
    const max = pipeMaxSize();
    if (max > before) fcntl()(fd, F_SETPIPE_SZ, 'int', Math.min(max, bytes));
  }
  return pipeCapacity(fd);
}

function pipeMaxSize(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

interface MmapFns {
  mmap(addr: Ptr, len: number, prot: number, flags: number, fd: number, off: number): Ptr;
  munmap(addr: Ptr, len: number): number;
  madvise(addr: Ptr, len: number, advice: number): number;
}
let mmapFns: MmapFns | undefined;
const mmapLib = (): MmapFns =>
  (mmapFns ??= {
    mmap: cfunc(libc(), 'void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: cfunc(libc(), 'int munmap(void *addr, size_t len)'),
    madvise: cfunc(libc(), 'int madvise(void *addr, size_t len, int advice)'),
  });

/** From <sys/mman.h>. */
const PROT_READ = 1;
const MAP_SHARED = 1;
const MADV_SEQUENTIAL = 2;
const MADV_WILLNEED = 3;
/** mmap's MAP_FAILED, (void *) -1, as koffi hands back an address. */
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** A read-only view of a file's bytes in the page cache; `unmap` ends it. */
export interface FileWindow {
  readonly bytes: Uint8Array;
  unmap(): void;
}

/**
 * Maps `length` bytes of the file open at `fd` from `offset` (a multiple of the page size) read-only
 * and shared, and tells the kernel they will be read in order (read-ahead, early reclaim), or with
 * `soon` that they will be read soon (read now, in the background). The caller must keep the file
 * from shrinking under the mapping: reading a page past its end raises SIGBUS.
 */
export function mapFileWindow(fd: number, offset: number, length: number, soon = false): FileWindow {
  // LEANCKPT_MAP=0 turns mapping off: every caller then reads the file instead, as it does where mmap
  // is missing (and the lab compares the two in one run).
  if (process.env.LEANCKPT_MAP === '0') throw new Error('file mapping turned off (LEANCKPT_MAP=0)');
  const f = mmapLib();
  const addr = f.mmap(null, length, PROT_READ, MAP_SHARED, fd, offset);
  check(addr !== null && addr !== 0n && addr !== MAP_FAILED, `mmap of ${length} bytes at ${offset}`);
  // Advice only: a refusal changes nothing that matters.
  f.madvise(addr, length, soon ? MADV_WILLNEED : MADV_SEQUENTIAL);
  return { bytes: bytesAt(addr, length), unmap: () => void f.munmap(addr, length) };
}
