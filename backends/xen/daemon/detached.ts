/**
 * Processes that outlive their parent and talk to it over one inherited socket (fd 3, its number in
 * READY_FD_ENV): a line per message. The child says "ready" once it serves; a child started ahead of
 * need says "loaded" first and waits for a line of work. Waiting on that socket costs nothing; polling
 * a control socket until it answered cost the restore seconds of CPU in an emulated dom0, where every
 * refused connect builds an error and the child starting up needs that same CPU (lab profile).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';

export const READY_FD_ENV = 'LEANCKPT_READY_FD';
const LINK_FD = 3;

export interface DetachedOptions {
  /** Where the child's stdout and stderr go (appended). */
  readonly log: string;
  readonly cwd?: string;
}

/** The parent's end: the child's lines as they come, and lines to send it. */
export class DetachedChild {
  private readonly lines: string[] = [];
  /** When each line came (performance.now()), by the line: what a restore reports of its tracking. */
  readonly heardAt = new Map<string, number>();
  private buffered = '';
  private exit: string | undefined;
  private wake: (() => void) | undefined;
  private readonly link: Readable & { write?: (s: string) => boolean };

  private constructor(
    private readonly child: ChildProcess,
    readonly log: string,
  ) {
    this.link = child.stdio[LINK_FD] as Readable;
    this.link.setEncoding('utf8');
    this.link.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.lines.push(line);
        if (!this.heardAt.has(line)) this.heardAt.set(line, performance.now());
        this.buffered = this.buffered.slice(nl + 1);
      }
      this.wake?.();
    });
    this.link.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      this.exit = signal ?? `code ${code}`;
      this.wake?.();
    });
    child.on('error', (e) => {
      this.exit = e.message;
      this.wake?.();
    });
  }

  /** Spawns `node args...` detached, with its output appended to `opts.log`. */
  static spawn(args: readonly string[], opts: DetachedOptions): DetachedChild {
    const fd = openSync(opts.log, 'a');
    try {
      const child = spawn(process.execPath, args, {
        cwd: opts.cwd ?? '/',
        detached: true,
        stdio: ['ignore', fd, fd, 'pipe'],
        env: { ...process.env, [READY_FD_ENV]: String(LINK_FD) },
      });
      return new DetachedChild(child, opts.log);
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The child's next line; rejects if it exits first or says nothing within `timeoutMs`. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.exit !== undefined) {
        throw new Error(`it exited (${this.exit}) before it was ready; see ${this.log}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`it was not ready within ${timeoutMs / 1000} s; see ${this.log}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Waits for the line `expected`; anything else is an error naming what the child said. */
  async expect(expected: string, timeoutMs: number): Promise<void> {
    const line = await this.next(timeoutMs);
    if (line !== expected) throw new Error(`it said "${line}" instead of "${expected}"; see ${this.log}`);
  }

  send(line: string): void {
    (this.link as unknown as Socket).write(`${line}\n`);
  }

  /** Lets the child go on alone: our end of the link closes, and we no longer wait for it. */
  release(): void {
    this.link.destroy();
    this.child.unref();
  }

  /** Ends a child that failed to get ready: none is left running unseen. */
  kill(): void {
    this.release();
    if (this.exit === undefined) this.child.kill('SIGTERM');
  }
}

/** Spawns `node args...` detached; resolves with its pid once it has called signalReady(). */
export async function spawnDetached(
  args: readonly string[],
  opts: DetachedOptions & { readonly timeoutMs: number },
): Promise<number> {
  const child = DetachedChild.spawn(args, opts);
  try {
    await child.expect('ready', opts.timeoutMs);
  } catch (err) {
    child.kill();
    throw err;
  }
  child.release();
  return child.pid;
}

/** The child's end of the link, if a parent gave it one (else every call does nothing). */
class ParentLink {
  private socket: Socket | undefined;
  constructor(private readonly fd: number) {}

  say(word: string): void {
    try {
      writeSync(this.fd, `${word}\n`);
    } catch {
      // The parent gave up waiting: it reported that already.
    }
  }

  /** The parent's next line, or undefined if it closed the link first. */
  hear(): Promise<string | undefined> {
    this.socket ??= new Socket({ fd: this.fd, readable: true, writable: false });
    const socket = this.socket;
    return new Promise((resolve) => {
      let text = '';
      const done = (line: string | undefined): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onEnd);
        socket.pause();
        resolve(line);
      };
      const onData = (chunk: Buffer): void => {
        text += chunk.toString('utf8');
        const nl = text.indexOf('\n');
        if (nl >= 0) done(text.slice(0, nl));
      };
      const onEnd = (): void => done(undefined);
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('error', onEnd);
      socket.resume();
    });
  }

  close(): void {
    if (this.socket) this.socket.destroy();
    else {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
  }
}

let link: ParentLink | null | undefined;

/** In a child spawned by DetachedChild: its link to the parent (undefined when started otherwise). */
export function parentLink(): ParentLink | undefined {
  if (link === undefined) {
    const fd = Number(process.env[READY_FD_ENV]);
    delete process.env[READY_FD_ENV];
    link = Number.isInteger(fd) && fd >= 3 ? new ParentLink(fd) : null;
  }
  return link ?? undefined;
}

/** In the child: tells the parent it serves now, and closes the link (else nothing). */
export function signalReady(): void {
  const l = parentLink();
  if (!l) return;
  l.say('ready');
  l.close();
}
