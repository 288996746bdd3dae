/**
 * Shared pieces of record validation. Validators follow Xen's migration stream order: the length can
 * hold the fixed part, then counts, then that the length can hold the items, then each item, then the
 * exact total; so a message always names what was expected and what was found.
 */
import { ImageFormatError } from '../../errors.ts';

/** What a record's items are checked against: the image's own GEOMETRY and DISK records. */
export interface RecordContext {
  readonly pageCount: number;
  /** Size of disk `id` from its DISK record, or undefined if the image has none. */
  diskSectors(id: number): number | undefined;
}

export function formatError(record: string, at: number, message: string): ImageFormatError {
  return new ImageFormatError(`${message} (record at offset ${at})`, record, at);
}

export function checkMinLength(record: string, at: number, length: number, min: number, what = ''): void {
  if (length < min)
    throw formatError(record, at, `${record} record truncated: length ${length}, min ${min}${what}`);
}

export function checkExactLength(record: string, at: number, length: number, expected: number): void {
  if (length !== expected) {
    throw formatError(record, at, `${record} record wrong size: length ${length}, expected ${expected}`);
  }
}

export function checkCount(record: string, at: number, count: number, max: number, items: string): void {
  if (count < 1) throw formatError(record, at, `${record} record has no ${items}, expected at least 1`);
  if (count > max) throw formatError(record, at, `${record} record has ${count} ${items}, max ${max}`);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a u64 as a number, or -1 if it exceeds 2^53 - 1 (no BigInt allocation on the hot path). */
export function getU64(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  return hi >= 0x20_0000 ? -1 : hi * 0x1_0000_0000 + lo;
}

/** Writes a non-negative integer below 2^53 as a u64. */
export function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}
