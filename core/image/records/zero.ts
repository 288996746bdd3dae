/**
 * ZERO: count u32 | reserved u32 | count x { pfn u32 | pages u32 }. Each extent is a run of all-zero
 * pages, stored as a fact: 8 bytes for any number of pages.
 */
import { ZERO_MAX_EXTENTS } from '../format.ts';
import {
  checkCount,
  checkExactLength,
  checkMinLength,
  formatError,
  viewOf,
  type RecordContext,
} from './check.ts';

const NAME = 'ZERO';
export const ZERO_HEADER_SIZE = 8;
export const ZERO_EXTENT_SIZE = 8;

/** Extent i is pages start[i] .. start[i] + pages[i] - 1. */
export interface ZeroExtents {
  readonly count: number;
  readonly start: Uint32Array;
  readonly pages: Uint32Array;
}

export function zeroLength(count: number): number {
  return ZERO_HEADER_SIZE + ZERO_EXTENT_SIZE * count;
}

export function encodeZero(z: ZeroExtents): Uint8Array {
  const body = new Uint8Array(zeroLength(z.count));
  const view = viewOf(body);
  view.setUint32(0, z.count, true);
  for (let i = 0; i < z.count; i++) {
    view.setUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE, z.start[i]!, true);
    view.setUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE + 4, z.pages[i]!, true);
  }
  return body;
}

export function validateZero(body: Uint8Array, at: number, ctx: RecordContext): void {
  checkMinLength(NAME, at, body.length, ZERO_HEADER_SIZE);
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  checkCount(NAME, at, count, ZERO_MAX_EXTENTS, 'extents');
  const total = zeroLength(count);
  checkMinLength(NAME, at, body.length, total, ` for ${count} extents`);
  for (let i = 0; i < count; i++) {
    const start = view.getUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE, true);
    const pages = view.getUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE + 4, true);
    if (pages < 1) throw formatError(NAME, at, `ZERO extent ${i} at pfn ${start} is empty`);
    if (start + pages > ctx.pageCount) {
      throw formatError(
        NAME,
        at,
        `ZERO extent ${i}: pages ${start}..${start + pages - 1} beyond page count ${ctx.pageCount}`,
      );
    }
  }
  checkExactLength(NAME, at, body.length, total);
}

export function decodeZero(body: Uint8Array): ZeroExtents {
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  const z = { count, start: new Uint32Array(count), pages: new Uint32Array(count) };
  for (let i = 0; i < count; i++) {
    z.start[i] = view.getUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE, true);
    z.pages[i] = view.getUint32(ZERO_HEADER_SIZE + i * ZERO_EXTENT_SIZE + 4, true);
  }
  return z;
}
