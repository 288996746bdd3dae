/**
 * Buffered, double-buffered record output. Records are framed in place in a large buffer and written in
 * multi-MiB sequential writes; while one buffer is being written the writer fills the other, so reading
 * guest memory and writing the file overlap. Nothing is allocated per page.
 *
 * A record may also take part of its body from arrays outside the buffer (reservePieces/commitPieces:
 * page data straight from mapped guest memory). Only its framing and the start of its body are put in
 * the buffer; the outside parts are written from where they are with a gathered write (writev) of the
 * buffer's bytes and those parts in file order, and checksummed in place, so they are never copied.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hasher64 } from '../hash.ts';
import { frameInPlace } from './frame.ts';
import { align8, framedSize, REC_CHECKSUM_SIZE, REC_HEADER_SIZE } from './format.ts';

/** Holds one full PAGE_DATA record (about 4 MiB) plus the small records around it. */
export const SINK_BUFFER_SIZE = 8 * 1024 * 1024;

/**
 * Bytes a gathered write carries at most (outside parts included; they take no room in the buffer).
 * Every write waits for the one before it, and each hand-off between the thread pool and this thread
 * leaves the file idle for a moment (long on a busy machine): large writes make few of them.
 */
export const GATHERED_WRITE_MAX = 32 * 1024 * 1024;

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

/** `pieces`, one after another, from `position` on: gathered writes, continued after a short one. */
async function writeAllGathered(file: FileHandle, pieces: Uint8Array[], position: number): Promise<void> {
  if (pieces.length === 1) return writeAll(file, pieces[0]!, position);
  let first = 0;
  for (let at = position; first < pieces.length;) {
    let { bytesWritten } = await file.writev(first === 0 ? pieces : pieces.slice(first), at);
    if (bytesWritten === 0) throw new Error(`write at offset ${at} wrote nothing`);
    at += bytesWritten;
    while (first < pieces.length && bytesWritten >= pieces[first]!.length) {
      bytesWritten -= pieces[first]!.length;
      first++;
    }
    if (bytesWritten > 0) pieces[first] = pieces[first]!.subarray(bytesWritten);
  }
}

const ZERO_PADDING = new Uint8Array(8);

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
  /**
   * The current batch in file order when it has outside parts: the buffer's bytes before `mark` and
   * the parts between them. The buffer's bytes from `mark` to `used` follow the last of them.
   */
  private pieces: Uint8Array[] = [];
  private mark = 0;
  /** Bytes of outside parts in the current batch. */
  private outside = 0;
  /** File offset of the current batch's first byte. */
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
    return this.base + this.used + this.outside;
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

  /**
   * Makes room for a record whose body is a `headLength`-byte head, placed in `buf` at the offset
   * returned, followed by `partsLength` bytes of outside parts given to commitPieces(). Starts a new
   * batch first when this record's head does not fit the buffer or the batch would exceed
   * GATHERED_WRITE_MAX.
   */
  async reservePieces(headLength: number, partsLength: number): Promise<number> {
    const need = framedSize(headLength + partsLength) - partsLength;
    if (need > this.capacity)
      throw new RangeError(`record head of ${headLength} bytes exceeds the sink buffer`);
    const batch = this.used + this.outside + need + partsLength;
    if (this.used + need > this.capacity || batch > Math.max(this.capacity, GATHERED_WRITE_MAX)) {
      await this.flush();
    }
    return this.used + REC_HEADER_SIZE;
  }

  /**
   * Frames the reserved record: its head (`headLength` bytes, in place) followed by `parts`, which
   * together hold exactly `partsLength` bytes. The parts are hashed where they are and written from
   * there: they must not change until finish() has returned.
   */
  commitPieces(type: number, headLength: number, parts: readonly Uint8Array[], partsLength: number): void {
    let total = 0;
    for (const part of parts) total += part.length;
    if (total !== partsLength) throw new RangeError(`record parts hold ${total} bytes, not ${partsLength}`);
    const { buf, view } = this.current;
    const start = this.used;
    const length = headLength + partsLength;
    const headEnd = start + REC_HEADER_SIZE + headLength;
    view.setUint32(start, type, true);
    view.setUint32(start + 4, length, true);
    const hash = this.hasher.streaming().update(buf.subarray(start, headEnd));
    for (const part of parts) hash.update(part);
    const padding = align8(length) - length;
    hash.update(ZERO_PADDING.subarray(0, padding));
    buf.fill(0, headEnd, headEnd + padding);
    view.setBigUint64(headEnd + padding, hash.digest(), true);
    if (headEnd > this.mark) this.pieces.push(buf.subarray(this.mark, headEnd));
    for (const part of parts) this.pieces.push(part);
    this.mark = headEnd;
    this.outside += partsLength;
    this.used = headEnd + padding + REC_CHECKSUM_SIZE;
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

  /**
   * Starts writing the current batch (the buffer's bytes and any outside parts between them) and
   * switches to the spare buffer, after its write is done: one write is in flight at a time.
   */
  private async flush(): Promise<void> {
    await this.settled();
    if (this.used === 0 && this.outside === 0) return;
    const full = this.current;
    const pieces = this.pieces;
    if (this.used > this.mark) pieces.push(full.buf.subarray(this.mark, this.used));
    this.pending = writeAllGathered(this.file, pieces, this.base).then(
      () => undefined,
      (error: unknown) => {
        this.failure = { error };
      },
    );
    this.base += this.used + this.outside;
    this.used = 0;
    this.mark = 0;
    this.outside = 0;
    this.pieces = [];
    this.current = this.spare;
    this.spare = full;
  }

  private async settled(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure.error;
  }
}
