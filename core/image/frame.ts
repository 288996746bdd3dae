/**
 * Record framing: type u32 | length u32 | body | zero padding to 8 | checksum u64 over all of the
 * preceding bytes of the record. Shared by the streaming writer (which frames in place in its buffer)
 * and by tests that build images by hand.
 */
import type { Hasher64 } from '../hash.ts';
import { align8, framedSize, REC_HEADER_SIZE } from './format.ts';

/**
 * Frames the record whose body of `length` bytes already sits at `start + REC_HEADER_SIZE` in `buf`:
 * writes type and length, zeroes the padding, appends the checksum. Returns the framed size.
 */
export function frameInPlace(
  buf: Uint8Array,
  view: DataView,
  start: number,
  type: number,
  length: number,
  hasher: Hasher64,
): number {
  view.setUint32(start, type, true);
  view.setUint32(start + 4, length, true);
  const bodyEnd = start + REC_HEADER_SIZE + length;
  const padEnd = start + REC_HEADER_SIZE + align8(length);
  buf.fill(0, bodyEnd, padEnd);
  view.setBigUint64(padEnd, hasher.hash64(buf.subarray(start, padEnd)), true);
  return framedSize(length);
}

/** A whole framed record as a new array. */
export function frameRecord(type: number, body: Uint8Array, hasher: Hasher64): Uint8Array {
  const out = new Uint8Array(framedSize(body.length));
  out.set(body, REC_HEADER_SIZE);
  frameInPlace(out, new DataView(out.buffer), 0, type, body.length, hasher);
  return out;
}
