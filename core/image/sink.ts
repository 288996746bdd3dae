/**
 * Buffered, double-buffered record output. Records are framed in place in a large buffer and written in
 * multi-MiB sequential writes; while one buffer is being written the writer fills the other, so reading
 * guest memory and writing the file overlap. Nothing is allocated per record or per page.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hasher64 } from '../hash.ts';
import { frameInPlace } from './frame.ts';
import { align8, framedSize, REC_HEADER_SIZE } from './format.ts';

/** Holds one full PAGE_DATA record (about 4 MiB) plus the small records around it. */
export const SINK_BUFFER_SIZE = 8 * 1024 * 1024;

interface Slab {
  readonly buf: Buffer;
  readonly view: DataView;
}

function slab(size: number): Slab {
  const buf = Buffer.alloc(size);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

export interface SinkOptions {
  /** Buffer size; SINK_BUFFER_SIZE by default. */
  readonly capacity?: number;
  /** File offset of the first byte emitted; 0 by default. */
  readonly at?: number;
}

export class RecordSink {
  private readonly capacity: number;
  private current: Slab;
  private spare: Slab;
  private used = 0;
  /** File offset of current.buf[0]. */
  private base = 0;
  /** The write of the spare buffer; never rejects (a failure is kept in `failure`). */
  private pending: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly file: FileHandle,
    private readonly hasher: Hasher64,
    options: SinkOptions = {},
  ) {
    this.capacity = options.capacity ?? SINK_BUFFER_SIZE;
    this.base = options.at ?? 0;
    this.current = slab(this.capacity);
    this.spare = slab(this.capacity);
  }

  /** The buffer records are framed in; changes when reserve() flushes, so fetch it after reserving. */
  get buf(): Buffer {
    return this.current.buf;
  }

  get view(): DataView {
    return this.current.view;
  }

  /** Bytes emitted so far, buffered or written. */
  get position(): number {
    return this.base + this.used;
  }

  /**
   * Makes room for a record with a body of at most `maxLength` bytes and returns the offset in `buf`
   * where the body goes. Nothing is emitted until commit(); reserving again abandons the reservation.
   */
  async reserve(maxLength: number): Promise<number> {
    const need = framedSize(maxLength);
    if (need > this.capacity) throw new RangeError(`record of ${maxLength} bytes exceeds the sink buffer`);
    if (this.used + need > this.capacity) await this.flush();
    return this.used + REC_HEADER_SIZE;
  }

  /** Frames the reserved record, whose `length`-byte body is in place. */
  commit(type: number, length: number): void {
    this.used += frameInPlace(this.current.buf, this.current.view, this.used, type, length, this.hasher);
  }

  /** A whole record from a body array; bodies too large for the buffer are written around it, uncopied. */
  async putRecord(type: number, body: Uint8Array): Promise<void> {
    if (framedSize(body.length) <= this.capacity) {
      const at = await this.reserve(body.length);
      this.current.buf.set(body, at);
      this.commit(type, body.length);
      return;
    }
    await this.flush();
    await this.settled();
    const head = new Uint8Array(REC_HEADER_SIZE);
    const headView = new DataView(head.buffer);
    headView.setUint32(0, type, true);
    headView.setUint32(4, body.length, true);
    const tail = new Uint8Array(align8(body.length) - body.length + 8);
    const padding = tail.subarray(0, tail.length - 8);
    const sum = this.hasher.streaming().update(head).update(body).update(padding).digest();
    new DataView(tail.buffer).setBigUint64(padding.length, sum, true);
    for (const part of [head, body, tail]) {
      await writeAll(this.file, part, this.base);
      this.base += part.length;
    }
  }

  /** Raw bytes outside any record (the file header). */
  async putBytes(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length > this.capacity) await this.flush();
    this.current.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** `n` zero bytes outside any record: room for records written later over them. */
  async putZeros(n: number): Promise<void> {
    for (let left = n; left > 0;) {
      if (this.used === this.capacity) await this.flush();
      const k = Math.min(left, this.capacity - this.used);
      this.current.buf.fill(0, this.used, this.used + k);
      this.used += k;
      left -= k;
    }
  }

  /** Writes everything out and returns the file offset after the last byte. */
  async finish(): Promise<number> {
    await this.flush();
    await this.settled();
    return this.base;
  }

  /** Waits for an outstanding write, ignoring its outcome: for cleanup after a failure. */
  async settle(): Promise<void> {
    await this.pending;
  }

  /** Starts writing the current buffer and switches to the spare one (after its write is done). */
  private async flush(): Promise<void> {
    await this.settled();
    if (this.used === 0) return;
    const full = this.current;
    this.pending = writeAll(this.file, full.buf.subarray(0, this.used), this.base).then(
      () => undefined,
      (error: unknown) => {
        this.failure = { error };
      },
    );
    this.base += this.used;
    this.used = 0;
    this.current = this.spare;
    this.spare = full;
  }

  private async settled(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure.error;
  }
}
