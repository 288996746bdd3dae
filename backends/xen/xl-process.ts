/**
 * Running `xl` (the Xen toolstack command) as a child process. The binary is `$LEANCKPT_XL` or `xl` on
 * PATH, so tests run the orchestration against a stand-in script. Failures carry xl's own stderr.
 */
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { growPipe } from './ffi/libc.ts';
import { XenUnavailableError } from './ffi/load.ts';

export class XlError extends Error {
  override readonly name = 'XlError';
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export const xlBinary = (): string => process.env['LEANCKPT_XL'] ?? 'xl';

export interface XlRun {
  /** Resolves with stdout when xl exits 0; rejects with XlError otherwise. */
  readonly done: Promise<string>;
  /** Milliseconds from spawn to exit, once done. */
  elapsedMs(): number;
  kill(): void;
}

/** Starts `xl <args>`; stderr is kept (its last 4 KiB) for the error message. */
export function startXl(args: readonly string[]): XlRun {
  const started = performance.now();
  let ended = started;
  const child = spawn(xlBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4096)));
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      ended = performance.now();
      reject(
        e.code === 'ENOENT'
          ? new XenUnavailableError(`the ${xlBinary()} command (Debian package xen-utils-4.17)`)
          : new XlError(`cannot run ${xlBinary()}: ${e.message}`, null),
      );
    });
    child.on('close', (code, signal) => {
      ended = performance.now();
      if (code === 0) resolve(out);
      else {
        const why = err.trim() ? `: ${err.trim().split('\n').slice(-5).join(' | ')}` : '';
        reject(new XlError(`xl ${args[0]} failed (${signal ?? `exit ${code}`})${why}`, code));
      }
    });
  });
  return { done, elapsedMs: () => ended - started, kill: () => void child.kill('SIGTERM') };
}

export const runXl = (args: readonly string[]): Promise<string> => startXl(args).done;

/**
 * The capacity leanckpt gives a stream FIFO once either end is open: xl reads and writes records of up
 * to 4 MiB, and through Linux's default 64 KiB pipe every record took dozens of wake-ups of each side.
 */
export const STREAM_PIPE_BYTES = 8 << 20;

/**
 * Grows an open stream FIFO to STREAM_PIPE_BYTES (or the most this process may); -1 if libc's fcntl
 * cannot be reached. Never throws: xl is already running on the other end, and a save or restore that
 * stopped here would leave it blocked on the FIFO, while a small pipe is only slower.
 */
export function growStreamPipe(fd: number): number {
  try {
    return growPipe(fd, STREAM_PIPE_BYTES);
  } catch {
    return -1;
  }
}

/** Creates a FIFO (node has no mkfifo). */
export async function makeFifo(path: string): Promise<void> {
  try {
    await promisify(execFile)('mkfifo', ['-m', '600', path]);
  } catch (e) {
    throw new XlError(`cannot create the FIFO ${path}: ${(e as Error).message}`, null);
  }
}
