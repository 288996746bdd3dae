/**
 * Buffered record input: reads the image in large sequential chunks and hands out one record at a
 * time, after checking its length bounds and checksum, so no caller ever looks at unverified bytes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Hasher64 } from '../hash.ts';
import { ImageFormatError } from '../errors.ts';
import { decodeFileHeader, type FormatVersion } from './file-header.ts';
import {
  FILE_HEADER_SIZE,
  framedSize,
  hex64,
  REC_CHECKSUM_SIZE,
  REC_FRAME_SIZE,
  REC_HEADER_SIZE,
  REC_LENGTH_MAX,
  recordTypeName,
} from './format.ts';
import { formatError } from './records/check.ts';

export const SOURCE_BUFFER_SIZE = 8 * 1024 * 1024;

export interface RawRecord {
  readonly type: number;
  readonly name: string;
  /** File offset of the record's first byte. */
  readonly at: number;
  /** Bytes the record takes in the file. */
  readonly framed: number;
  /** The verified body; a view that is valid until the next call to next(). */
  readonly body: Uint8Array;
}

export class RecordSource {
  /** Bytes read from the file so far. */
  bytesRead = 0;
  /** File offset of the next record. */
  offset = FILE_HEADER_SIZE;
  private buf: Uint8Array;
  /** File offset of buf[0] and number of valid bytes from there. */
  private bufAt = 0;
  private bufLen = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly size: number,
    private readonly hasher: Hasher64,
  ) {
    // A small image needs no 8 MiB buffer.
    this.buf = new Uint8Array(Math.min(SOURCE_BUFFER_SIZE, Math.max(size, 1)));
  }

  static async open(path: string, hasher: Hasher64): Promise<RecordSource> {
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (err) {
      // A missing or unreadable image is the user's to fix: say which file and why, no stack.
      throw new ImageFormatError(`Cannot open image ${path}: ${(err as Error).message}`, 'file', 0);
    }
    try {
      const { size } = await file.stat();
      return new RecordSource(file, size, hasher);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  async header(): Promise<FormatVersion> {
    return decodeFileHeader(await this.window(0, Math.min(this.size, FILE_HEADER_SIZE)), this.hasher);
  }

  /** The next verified record, or undefined at the end of the file. */
  async next(): Promise<RawRecord | undefined> {
    const at = this.offset;
    const left = this.size - at;
    if (left === 0) return undefined;
    if (left < REC_FRAME_SIZE) {
      // Name the record if enough of its header survived to tell its type.
      const name = left >= 4 ? recordTypeName(await this.u32(at)) : 'record';
      const what = left >= 4 ? `${name} record` : 'Record';
      throw formatError(
        name,
        at,
        `${what} truncated: ${left} bytes left, a record takes at least ${REC_FRAME_SIZE}`,
      );
    }
    const type = await this.u32(at);
    const length = await this.u32(at + 4);
    const name = recordTypeName(type);
    if (length > REC_LENGTH_MAX) {
      throw formatError(name, at, `${name} record length ${length} exceeds the maximum ${REC_LENGTH_MAX}`);
    }
    const framed = framedSize(length);
    if (framed > left) {
      throw formatError(
        name,
        at,
        `${name} record truncated: needs ${framed} bytes, the file has ${left} left`,
      );
    }
    const rec = await this.window(at, framed);
    const sumAt = framed - REC_CHECKSUM_SIZE;
    const stored = new DataView(rec.buffer, rec.byteOffset + sumAt, REC_CHECKSUM_SIZE).getBigUint64(0, true);
    const actual = this.hasher.hash64(rec.subarray(0, sumAt));
    if (stored !== actual) {
      throw formatError(
        name,
        at,
        `${name} record checksum mismatch (stored ${hex64(stored)}, computed ${hex64(actual)})`,
      );
    }
    this.offset = at + framed;
    return { type, name, at, framed, body: rec.subarray(REC_HEADER_SIZE, REC_HEADER_SIZE + length) };
  }

  private async u32(at: number): Promise<number> {
    const bytes = await this.window(at, 4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  }

  /** Bytes [at, at + n) of the file (caller ensures they exist), valid until the next call. */
  private async window(at: number, n: number): Promise<Uint8Array> {
    if (at < this.bufAt || at + n > this.bufAt + this.bufLen) await this.fill(at, n);
    const from = at - this.bufAt;
    return this.buf.subarray(from, from + n);
  }

  /** Makes [at, at + n) resident, keeping what is already read and reading ahead as far as fits. */
  private async fill(at: number, n: number): Promise<void> {
    if (n > this.buf.length) {
      // One oversized record (a large STATE): a buffer of its own size, kept for later records.
      this.buf = new Uint8Array(n);
      this.bufLen = 0;
    } else if (at >= this.bufAt && at < this.bufAt + this.bufLen) {
      this.buf.copyWithin(0, at - this.bufAt, this.bufLen);
      this.bufLen -= at - this.bufAt;
    } else {
      this.bufLen = 0;
    }
    this.bufAt = at;
    while (this.bufLen < n) {
      const want = Math.min(this.buf.length - this.bufLen, this.size - (this.bufAt + this.bufLen));
      const { bytesRead } = await this.file.read(this.buf, this.bufLen, want, this.bufAt + this.bufLen);
      if (bytesRead === 0) {
        throw new ImageFormatError(
          `Image truncated while reading: the file ended at offset ${this.bufAt + this.bufLen}`,
          'record',
          this.bufAt + this.bufLen,
        );
      }
      this.bufLen += bytesRead;
      this.bytesRead += bytesRead;
    }
  }
}
