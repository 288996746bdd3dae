/**
 * PAGE_DATA: count u32 | reserved u32 | pfn[count] u32 | zero padding to 8 | count x 4096-byte pages.
 * Like Xen's PAGE_DATA, the pfns come first so a reader knows where each page goes before it sees the
 * data; the padding keeps the pages 8-aligned in the file.
 */
import { PAGE_SIZE } from '../../ports.ts';
import { align8, PAGE_DATA_MAX_PAGES } from '../format.ts';
import {
  checkCount,
  checkExactLength,
  checkMinLength,
  formatError,
  viewOf,
  type RecordContext,
} from './check.ts';

const NAME = 'PAGE_DATA';
export const PAGE_DATA_HEADER_SIZE = 8;

export interface PageData {
  readonly count: number;
  readonly pfn: Uint32Array;
  /** count * PAGE_SIZE bytes; page i belongs to pfn[i]. A view into the reader's buffer. */
  readonly pages: Uint8Array;
}

/** Offset of the first page in a body holding `count` pages. */
export function pageDataPagesOffset(count: number): number {
  return PAGE_DATA_HEADER_SIZE + align8(4 * count);
}

export function pageDataLength(count: number): number {
  return pageDataPagesOffset(count) + PAGE_SIZE * count;
}

/**
 * Writes count, reserved field, pfn array and padding of a body at `body` (pages are placed by the
 * caller at pageDataPagesOffset(count)).
 */
export function encodePageDataHeader(view: DataView, body: number, pfns: Uint32Array, count: number): void {
  view.setUint32(body, count, true);
  view.setUint32(body + 4, 0, true);
  for (let i = 0; i < count; i++) view.setUint32(body + PAGE_DATA_HEADER_SIZE + 4 * i, pfns[i]!, true);
  if (count % 2 === 1) view.setUint32(body + PAGE_DATA_HEADER_SIZE + 4 * count, 0, true);
}

/** A whole PAGE_DATA body; for tests and small records (the writer encodes in place). */
export function encodePageData(p: PageData): Uint8Array {
  const body = new Uint8Array(pageDataLength(p.count));
  encodePageDataHeader(viewOf(body), 0, p.pfn, p.count);
  body.set(p.pages.subarray(0, p.count * PAGE_SIZE), pageDataPagesOffset(p.count));
  return body;
}

export function validatePageData(body: Uint8Array, at: number, ctx: RecordContext): void {
  checkMinLength(NAME, at, body.length, PAGE_DATA_HEADER_SIZE);
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  checkCount(NAME, at, count, PAGE_DATA_MAX_PAGES, 'pages');
  checkMinLength(NAME, at, body.length, pageDataPagesOffset(count), ` for ${count} pfns`);
  for (let i = 0; i < count; i++) {
    const pfn = view.getUint32(PAGE_DATA_HEADER_SIZE + 4 * i, true);
    if (pfn >= ctx.pageCount) {
      throw formatError(NAME, at, `PAGE_DATA entry ${i}: pfn ${pfn} beyond page count ${ctx.pageCount}`);
    }
  }
  checkExactLength(NAME, at, body.length, pageDataLength(count));
}

export function decodePageData(body: Uint8Array): PageData {
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  const pfn = new Uint32Array(count);
  for (let i = 0; i < count; i++) pfn[i] = view.getUint32(PAGE_DATA_HEADER_SIZE + 4 * i, true);
  const from = pageDataPagesOffset(count);
  return { count, pfn, pages: body.subarray(from, from + count * PAGE_SIZE) };
}
