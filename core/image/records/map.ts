/**
 * MAP: count u32 | reserved u32 | count x { pfn u32 | disk u32 | sector u64 | hash u64 }.
 * Page pfn's content is the 8 sectors from `sector` on disk `disk`, and its XXH64 is `hash`. Entries are
 * sorted by (disk, sector, pfn) across all MAP records, so a restore reads each disk front to back.
 * Written in place by the writer (encodeMapHeader/encodeMapEntry), decoded into columns, never objects.
 */
import { SECTORS_PER_PAGE } from '../../ports.ts';
import { MAP_MAX_ENTRIES } from '../format.ts';
import {
  checkCount,
  checkExactLength,
  checkMinLength,
  formatError,
  getU64,
  setU64,
  viewOf,
  type RecordContext,
} from './check.ts';

const NAME = 'MAP';
export const MAP_HEADER_SIZE = 8;
export const MAP_ENTRY_SIZE = 24;

export interface MapEntries {
  readonly count: number;
  readonly pfn: Uint32Array;
  readonly disk: Uint32Array;
  readonly sector: Float64Array;
  readonly hash: BigUint64Array;
}

export function mapLength(count: number): number {
  return MAP_HEADER_SIZE + MAP_ENTRY_SIZE * count;
}

/** Writes the header of a MAP body starting at `body`; the reserved field is written as zero. */
export function encodeMapHeader(view: DataView, body: number, count: number): void {
  view.setUint32(body, count, true);
  view.setUint32(body + 4, 0, true);
}

export function encodeMapEntry(
  view: DataView,
  body: number,
  i: number,
  pfn: number,
  disk: number,
  sector: number,
  hash: bigint,
): void {
  const o = body + MAP_HEADER_SIZE + i * MAP_ENTRY_SIZE;
  view.setUint32(o, pfn, true);
  view.setUint32(o + 4, disk, true);
  setU64(view, o + 8, sector);
  view.setBigUint64(o + 16, hash, true);
}

/** A whole MAP body from columns; for small records and tests (the writer encodes in place). */
export function encodeMap(m: MapEntries): Uint8Array {
  const body = new Uint8Array(mapLength(m.count));
  const view = viewOf(body);
  encodeMapHeader(view, 0, m.count);
  for (let i = 0; i < m.count; i++)
    encodeMapEntry(view, 0, i, m.pfn[i]!, m.disk[i]!, m.sector[i]!, m.hash[i]!);
  return body;
}

export function validateMap(body: Uint8Array, at: number, ctx: RecordContext): void {
  checkMinLength(NAME, at, body.length, MAP_HEADER_SIZE);
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  checkCount(NAME, at, count, MAP_MAX_ENTRIES, 'entries');
  const total = mapLength(count);
  checkMinLength(NAME, at, body.length, total, ` for ${count} entries`);
  for (let i = 0; i < count; i++) {
    const o = MAP_HEADER_SIZE + i * MAP_ENTRY_SIZE;
    const pfn = view.getUint32(o, true);
    const disk = view.getUint32(o + 4, true);
    const sector = getU64(view, o + 8);
    if (pfn >= ctx.pageCount) {
      throw formatError(NAME, at, `MAP entry ${i}: pfn ${pfn} beyond page count ${ctx.pageCount}`);
    }
    const sectors = ctx.diskSectors(disk);
    if (sectors === undefined) throw formatError(NAME, at, `MAP entry ${i}: disk ${disk} has no DISK record`);
    if (sector < 0 || sector + SECTORS_PER_PAGE > sectors) {
      throw formatError(
        NAME,
        at,
        `MAP entry ${i}: page ${pfn} at sector ${sector < 0 ? '>= 2^53' : sector} lies beyond the end of disk ${disk} (${sectors} sectors)`,
      );
    }
  }
  checkExactLength(NAME, at, body.length, total);
}

export function decodeMap(body: Uint8Array): MapEntries {
  const view = viewOf(body);
  const count = view.getUint32(0, true);
  const m = {
    count,
    pfn: new Uint32Array(count),
    disk: new Uint32Array(count),
    sector: new Float64Array(count),
    hash: new BigUint64Array(count),
  };
  for (let i = 0; i < count; i++) {
    const o = MAP_HEADER_SIZE + i * MAP_ENTRY_SIZE;
    m.pfn[i] = view.getUint32(o, true);
    m.disk[i] = view.getUint32(o + 4, true);
    m.sector[i] = getU64(view, o + 8);
    m.hash[i] = view.getBigUint64(o + 16, true);
  }
  return m;
}
