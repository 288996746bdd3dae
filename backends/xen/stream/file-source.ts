/**
 * The save stream read straight from the file `xl save` is still writing: each read asks the file for
 * exactly the bytes the parser needs, into one reused buffer, waiting while the writer has not written
 * them yet. Reading whatever had arrived into chunks instead, a 4 MiB page batch almost always spanned
 * several of them and was copied once more to be whole (1.6 s of an emulated dom0's save, lab profile).
 * Same contract as ByteSource: a returned view is valid until the next read.
 */
import type { FileHandle } from 'node:fs/promises';
import { StreamFormatError } from './errors.ts';

/** What the parser reads from: ByteSource over any byte stream, or this over a growing file. */
export interface StreamSource {
  /** Stream offset of the next byte to be read. */
  readonly offset: number;
  /** Exactly `n` bytes; `what` names the structure being read if the stream ends first. */
  read(n: number, what: string): Promise<Uint8Array>;
  /** Between 1 and `max` bytes. */
  readSome(max: number, what: string): Promise<Uint8Array>;
  /** Whether the stream has no byte left. */
  atEnd(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How long to wait for the writer before looking again: at first, and at most. Each look costs a
 * read's dispatch to the thread pool and back, CPU that a save caught up with `xl` takes from xl
 * itself on a small dom0; so while one read stays short, the waits double up to the longest.
 */
const WAIT_MS = 10;
const WAIT_MAX_MS = 80;
/** readSome() hands out at most this much at a time. */
const SOME_MAX = 1 << 20;

export class GrowingFileSource implements StreamSource {
  offset = 0;
  /** How many times a read waited for the writer (reported by `xen save`). */
  waits = 0;
  private buf = new Uint8Array(64 << 10);
  private readonly probe = new Uint8Array(1);

  /** `finished()` turns true once the writer can add nothing more (it exited). */
  constructor(
    private readonly file: FileHandle,
    private readonly finished: () => boolean,
  ) {}

  async read(n: number, what: string): Promise<Uint8Array> {
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
    const out = this.buf.subarray(0, n);
    const got = await this.fill(out, what, n);
    this.offset += got;
    return out;
  }

  async readSome(max: number, what: string): Promise<Uint8Array> {
    const want = Math.min(max, SOME_MAX);
    if (this.buf.length < want) this.buf = new Uint8Array(Math.max(want, this.buf.length * 2));
    const out = this.buf.subarray(0, want);
    const got = await this.fill(out, what, 1);
    this.offset += got;
    return out.subarray(0, got);
  }

  async atEnd(): Promise<boolean> {
    for (let wait = WAIT_MS; ; wait = Math.min(2 * wait, WAIT_MAX_MS)) {
      // Checked before reading: a read that starts after the writer finished sees all it wrote.
      const last = this.finished();
      const { bytesRead } = await this.file.read(this.probe, 0, 1, this.offset);
      if (bytesRead > 0) return false;
      if (last) return true;
      await this.sleep(wait);
    }
  }

  async close(): Promise<void> {
    // The file belongs to the caller, who closes it.
  }

  /**
   * Reads into `out` from the current offset until at least `min` bytes are in; returns how many.
   * After a short read it waits before reading on (longer each time, see WAIT_MS): reading again at
   * once, a few KiB at a time while xl writes, takes CPU from xl itself.
   */
  private async fill(out: Uint8Array, what: string, min: number): Promise<number> {
    let got = 0;
    for (let wait = WAIT_MS; ; wait = Math.min(2 * wait, WAIT_MAX_MS)) {
      const last = this.finished();
      const { bytesRead } = await this.file.read(out, got, out.length - got, this.offset + got);
      got += bytesRead;
      if (got >= min) return got;
      if (bytesRead === 0 && last) {
        throw new StreamFormatError(
          min === 1
            ? `Save stream truncated in ${what} at offset ${this.offset}`
            : `Save stream truncated in ${what} at offset ${this.offset}: needs ${min} bytes, the stream ended after ${got}`,
          what,
          this.offset,
        );
      }
      // More may have come between the check and the read: only a read after it can tell.
      if (!last) await this.sleep(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    this.waits++;
    return new Promise((r) => setTimeout(r, ms));
  }
}
