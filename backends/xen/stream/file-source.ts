/**
 * The save stream read straight from the file `xl save` is still writing: a large read (a batch of
 * pages) asks the file for exactly the bytes the parser needs, into one reused buffer, waiting while the
 * writer has not written them yet. Reading whatever had arrived into chunks instead, a 4 MiB page batch
 * almost always spanned several of them and was copied once more to be whole (1.6 s of an emulated
 * dom0's save, lab profile). Small reads (record headers, pfn lists) are served from a read-ahead
 * window instead: an HVM guest's stream lists every pfn up to its highest, holes included (a 256 MiB
 * PVH guest: a million pfns, 1,020 PAGE_DATA records, nearly all without a page), and a file read per
 * header and per pfn list made a PVH save's filter lag `xl save` twice as far as a PV one's (lab runs
 * 73-78). Same contract as ByteSource: a returned view is valid until the next read.
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
/** Reads up to this size are served from the read-ahead window, which holds this much. */
const SMALL_MAX = 64 << 10;
const AHEAD = 256 << 10;

export class GrowingFileSource implements StreamSource {
  offset = 0;
  /** How many times a read waited for the writer (reported by `xen save`). */
  waits = 0;
  private buf = new Uint8Array(64 << 10);
  private readonly probe = new Uint8Array(1);
  /** File bytes read ahead: `ahead[0 .. aheadLen)` are those from stream offset `aheadAt`. */
  private readonly ahead = new Uint8Array(AHEAD);
  private aheadAt = 0;
  private aheadLen = 0;

  /** `finished()` turns true once the writer can add nothing more (it exited). */
  constructor(
    private readonly file: FileHandle,
    private readonly finished: () => boolean,
  ) {}

  async read(n: number, what: string): Promise<Uint8Array> {
    if (this.buffered() >= n) return this.take(n);
    if (n <= SMALL_MAX) {
      await this.readAhead(n, what);
      return this.take(n);
    }
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
    const out = this.buf.subarray(0, n);
    // What was read ahead first, then the file from where that ends.
    const have = this.buffered();
    const at = this.offset - this.aheadAt;
    out.set(this.ahead.subarray(at, at + have));
    const got = await this.fill(out.subarray(have), what, n - have, have);
    this.offset += have + got;
    return out;
  }

  async readSome(max: number, what: string): Promise<Uint8Array> {
    const want = Math.min(max, SOME_MAX);
    const have = this.buffered();
    if (have > 0) return this.take(Math.min(have, want));
    if (this.buf.length < want) this.buf = new Uint8Array(Math.max(want, this.buf.length * 2));
    const out = this.buf.subarray(0, want);
    const got = await this.fill(out, what, 1);
    this.offset += got;
    return out.subarray(0, got);
  }

  async atEnd(): Promise<boolean> {
    if (this.buffered() > 0) return false;
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

  /** Bytes read ahead from the current offset on. */
  private buffered(): number {
    return Math.max(0, this.aheadAt + this.aheadLen - this.offset);
  }

  /** The next `n` bytes, all read ahead already. */
  private take(n: number): Uint8Array {
    const at = this.offset - this.aheadAt;
    this.offset += n;
    return this.ahead.subarray(at, at + n);
  }

  /** Refills the window from the current offset with at least `n` bytes and as many more as are there. */
  private async readAhead(n: number, what: string): Promise<void> {
    const have = this.buffered();
    if (have > 0) this.ahead.copyWithin(0, this.offset - this.aheadAt, this.offset - this.aheadAt + have);
    this.aheadAt = this.offset;
    this.aheadLen = have;
    this.aheadLen += await this.fill(this.ahead.subarray(have), what, n - have, have);
  }

  /**
   * Reads into `out` from `skip` bytes past the current offset until at least `min` bytes are in;
   * returns how many. After a short read it waits before reading on (longer each time, see WAIT_MS):
   * reading again at once, a few KiB at a time while xl writes, takes CPU from xl itself.
   */
  private async fill(out: Uint8Array, what: string, min: number, skip = 0): Promise<number> {
    let got = 0;
    const from = this.offset + skip;
    for (let wait = WAIT_MS; ; wait = Math.min(2 * wait, WAIT_MAX_MS)) {
      const last = this.finished();
      const { bytesRead } = await this.file.read(out, got, out.length - got, from + got);
      got += bytesRead;
      if (got >= min) return got;
      if (bytesRead === 0 && last) {
        const need = min + skip;
        const ended = got + skip;
        throw new StreamFormatError(
          need === 1
            ? `Save stream truncated in ${what} at offset ${this.offset}`
            : `Save stream truncated in ${what} at offset ${this.offset}: needs ${need} bytes, the stream ended after ${ended}`,
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
