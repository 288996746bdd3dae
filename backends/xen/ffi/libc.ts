/** The few libc calls the bindings need: free (for libxenstore's results) and a pipe's capacity. */
import { readFileSync } from 'node:fs';
import { cfunc, library, type Ptr } from './load.ts';

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
