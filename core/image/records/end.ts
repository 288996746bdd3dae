/**
 * END: pages_mapped u64 | pages_zero u64 | pages_data u64. Last record; a file without it is truncated.
 * The counts let a reader cross-check what it restored against what the writer meant to write.
 */
import { PAGE_COUNT_MAX } from '../format.ts';
import { checkExactLength, checkMinLength, formatError, getU64, setU64, viewOf } from './check.ts';

const NAME = 'END';
export const END_LENGTH = 24;

export interface EndCounts {
  readonly pagesMapped: number;
  readonly pagesZero: number;
  readonly pagesData: number;
}

export function encodeEnd(c: EndCounts): Uint8Array {
  const body = new Uint8Array(END_LENGTH);
  const view = viewOf(body);
  setU64(view, 0, c.pagesMapped);
  setU64(view, 8, c.pagesZero);
  setU64(view, 16, c.pagesData);
  return body;
}

export function validateEnd(body: Uint8Array, at: number): void {
  checkMinLength(NAME, at, body.length, END_LENGTH);
  const view = viewOf(body);
  for (const [i, field] of ['pages_mapped', 'pages_zero', 'pages_data'].entries()) {
    const n = getU64(view, i * 8);
    if (n < 0 || n > PAGE_COUNT_MAX)
      throw formatError(NAME, at, `END ${field} too large, max ${PAGE_COUNT_MAX}`);
  }
  checkExactLength(NAME, at, body.length, END_LENGTH);
}

export function decodeEnd(body: Uint8Array): EndCounts {
  const view = viewOf(body);
  return { pagesMapped: getU64(view, 0), pagesZero: getU64(view, 8), pagesData: getU64(view, 16) };
}
