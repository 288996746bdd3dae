/**
 * Exact-length reads over an async byte stream (a FIFO fed by `xl save`, a file, a socket). Memory stays
 * bounded: at most one input chunk plus the largest single read is held. A returned view is valid until
 * the next read, so callers copy what they keep.
 */
import { StreamFormatError } from './errors.ts';
import type { StreamSource } from './file-source.ts';

export class ByteSource implements StreamSource {
  /** Stream offset of the next byte to be read. */
  offset = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private scratch: Uint8Array = new Uint8Array(0);
  private done = false;

  constructor(input: AsyncIterable<Uint8Array>) {
    this.it = input[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes; `what` names the structure being read if the stream ends first. */
  async read(n: number, what: string): Promise<Uint8Array> {
    if (this.chunk.length - this.at >= n) {
      const view = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      this.offset += n;
      return view;
    }
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    const out = this.scratch.subarray(0, n);
    let got = 0;
    const start = this.offset;
    while (got < n) {
      if (this.at === this.chunk.length && !(await this.pull())) {
        throw new StreamFormatError(
          `Save stream truncated in ${what} at offset ${start}: needs ${n} bytes, the stream ended after ${got}`,
          what,
          start,
        );
      }
      const take = Math.min(n - got, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), got);
      this.at += take;
      got += take;
    }
    this.offset += n;
    return out;
  }

  /** Between 1 and `max` bytes, whatever is at hand without copying; for passing long bodies through. */
  async readSome(max: number, what: string): Promise<Uint8Array> {
    if (this.at === this.chunk.length && !(await this.pull())) {
      throw new StreamFormatError(
        `Save stream truncated in ${what} at offset ${this.offset}`,
        what,
        this.offset,
      );
    }
    const take = Math.min(max, this.chunk.length - this.at);
    const view = this.chunk.subarray(this.at, this.at + take);
    this.at += take;
    this.offset += take;
    return view;
  }

  /** Stops reading early: lets the input release what it holds (a file stream closes its file). */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.it.return?.();
  }

  /** Whether the stream has no byte left. */
  async atEnd(): Promise<boolean> {
    return this.at === this.chunk.length && !(await this.pull());
  }

  private async pull(): Promise<boolean> {
    while (!this.done) {
      const next = await this.it.next();
      if (next.done) {
        this.done = true;
        break;
      }
      if (next.value.length > 0) {
        this.chunk = next.value;
        this.at = 0;
        return true;
      }
    }
    return false;
  }
}
