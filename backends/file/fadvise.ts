/**
 * posix_fadvise on a file descriptor, through koffi, where the C library has it (Linux); elsewhere a
 * no-op. RANDOM: a block store reads exactly the ranges it needs: the kernel's read-ahead after each of
 * those reads (up to read_ahead_kb, megabytes on some hosts) would only read, or for a sparse file
 * zero-fill, pages nobody asked for. DONTNEED: the benchmarks drop files they wrote from the cache.
 */
import { createRequire } from 'node:module';

const POSIX_FADV_RANDOM = 1;
const POSIX_FADV_DONTNEED = 4;

type Fadvise = (fd: number, offset: number, length: number, advice: number) => number;

let fadvise: Fadvise | null | undefined;

function load(): Fadvise | null {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(decl: string): unknown };
    };
    return koffi
      .load('libc.so.6')
      .func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)') as Fadvise;
  } catch {
    return null;
  }
}

/** Advises random access for the whole file; returns whether the advice was given. */
export function adviseRandom(fd: number): boolean {
  fadvise ??= load();
  return fadvise !== null && fadvise(fd, 0, 0, POSIX_FADV_RANDOM) === 0;
}

/**
 * Advises that the whole file's cached pages are not needed: the kernel drops the clean ones (sync
 * first for all of them). Returns whether the advice was given.
 */
export function adviseDontNeed(fd: number): boolean {
  fadvise ??= load();
  return fadvise !== null && fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) === 0;
}
