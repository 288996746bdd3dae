/**
 * Starting a process that outlives its parent and says when it is ready: it inherits a pipe as fd 3
 * (its number in READY_FD_ENV) and writes a line to it once it serves. Waiting on that pipe costs
 * nothing; polling a socket until it answers cost the restore seconds of CPU in an emulated dom0, where
 * every refused connect builds an error and the child starting up needs that same CPU (lab profile).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';

export const READY_FD_ENV = 'LEANCKPT_READY_FD';
const READY_FD = 3;

export interface DetachedOptions {
  /** Where the child's stdout and stderr go (appended). */
  readonly log: string;
  readonly timeoutMs: number;
  readonly cwd?: string;
}

/** Spawns `node args...` detached; resolves with its pid once it has called signalReady(). */
export function spawnDetached(args: readonly string[], opts: DetachedOptions): Promise<number> {
  const fd = openSync(opts.log, 'a');
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? '/',
    detached: true,
    stdio: ['ignore', fd, fd, 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: String(READY_FD) },
  });
  closeSync(fd);
  const ready = child.stdio[READY_FD] as Readable;
  return new Promise<number>((resolve, reject) => {
    let said = '';
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      ready.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(child.pid ?? -1);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`it exited (${signal ?? `code ${code}`}) before it was ready; see ${opts.log}`));
    const timer = setTimeout(
      () => finish(new Error(`it was not ready within ${opts.timeoutMs / 1000} s; see ${opts.log}`)),
      opts.timeoutMs,
    );
    child.on('exit', onExit);
    child.on('error', (e) => finish(e));
    ready.setEncoding('utf8');
    ready.on('data', (chunk: string) => {
      said += chunk;
      if (said.includes('\n')) finish();
    });
    ready.on('error', () => undefined);
  });
}

/** In the child: tells the parent that spawned it with spawnDetached() that it is ready (else nothing). */
export function signalReady(): void {
  const fd = Number(process.env[READY_FD_ENV]);
  delete process.env[READY_FD_ENV];
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, 'ready\n');
    closeSync(fd);
  } catch {
    // The parent gave up waiting: it reported that already.
  }
}
