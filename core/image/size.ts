/**
 * The exact size of an image from its page counts, without writing it: experiments compare against a
 * baseline (every page stored) that would take minutes to write for a large guest.
 */
import type { DiskIdentity } from '../ports.ts';
import {
  FILE_HEADER_SIZE,
  MAP_MAX_ENTRIES,
  PAGE_DATA_MAX_PAGES,
  REC_ALIGN,
  REC_FRAME_SIZE,
  ZERO_MAX_EXTENTS,
} from './format.ts';

const align = (n: number): number => Math.ceil(n / REC_ALIGN) * REC_ALIGN;
const record = (body: number): number => REC_FRAME_SIZE + align(body);

export interface ImageShape {
  readonly disks: readonly DiskIdentity[];
  readonly stateBytes: number;
  readonly pagesMapped: number;
  /** Number of ZERO extents (runs of consecutive zero pages). */
  readonly zeroExtents: number;
  readonly pagesData: number;
}

export function imageBytes(s: ImageShape): number {
  let bytes = FILE_HEADER_SIZE + record(16) + record(s.stateBytes) + record(24);
  for (const d of s.disks) bytes += record(16 + Buffer.byteLength(d.uuid, 'utf8'));
  bytes += Math.floor(s.pagesMapped / MAP_MAX_ENTRIES) * record(8 + 24 * MAP_MAX_ENTRIES);
  if (s.pagesMapped % MAP_MAX_ENTRIES) bytes += record(8 + 24 * (s.pagesMapped % MAP_MAX_ENTRIES));
  bytes += Math.floor(s.zeroExtents / ZERO_MAX_EXTENTS) * record(8 + 8 * ZERO_MAX_EXTENTS);
  if (s.zeroExtents % ZERO_MAX_EXTENTS) bytes += record(8 + 8 * (s.zeroExtents % ZERO_MAX_EXTENTS));
  const pageData = (n: number): number => record(8 + align(4 * n) + 4096 * n);
  bytes += Math.floor(s.pagesData / PAGE_DATA_MAX_PAGES) * pageData(PAGE_DATA_MAX_PAGES);
  if (s.pagesData % PAGE_DATA_MAX_PAGES) bytes += pageData(s.pagesData % PAGE_DATA_MAX_PAGES);
  return bytes;
}

/** What an unmodified save of the same guest would store: every page as data. */
export function baselineImageBytes(
  pageCount: number,
  disks: readonly DiskIdentity[],
  stateBytes: number,
): number {
  return imageBytes({ disks, stateBytes, pagesMapped: 0, zeroExtents: 0, pagesData: pageCount });
}
