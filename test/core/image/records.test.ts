import { describe, expect, it } from 'vitest';
import { ImageFormatError } from '../../../core/errors.ts';
import { RecordType, recordTypeName } from '../../../core/image/format.ts';
import type { RecordContext } from '../../../core/image/records/check.ts';
import { decodeDisk, encodeDisk, validateDisk } from '../../../core/image/records/disk.ts';
import { decodeEnd, encodeEnd, validateEnd } from '../../../core/image/records/end.ts';
import { decodeGeometry, encodeGeometry, validateGeometry } from '../../../core/image/records/geometry.ts';
import { decodeMap, encodeMap, validateMap } from '../../../core/image/records/map.ts';
import { decodePageData, encodePageData, validatePageData } from '../../../core/image/records/page-data.ts';
import { decodeState, encodeState, validateState } from '../../../core/image/records/state.ts';
import { decodeZero, encodeZero, validateZero } from '../../../core/image/records/zero.ts';

const AT = 4120;
const ctx: RecordContext = { pageCount: 64, diskSectors: (id) => (id === 0 ? 1000 : undefined) };

function rejects(validate: () => void, record: string, message: string | RegExp): void {
  let error: unknown;
  try {
    validate();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ImageFormatError);
  const e = error as ImageFormatError;
  expect(e).toMatchObject({ record, offset: AT });
  expect(e.message).toMatch(message);
  expect(e.message).toMatch(/\(record at offset 4120\)$/);
}

function u32s(...values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v, true));
  return bytes;
}

const mapOf = (entries: [number, number, number, bigint][]) => ({
  count: entries.length,
  pfn: Uint32Array.from(entries, (e) => e[0]),
  disk: Uint32Array.from(entries, (e) => e[1]),
  sector: Float64Array.from(entries, (e) => e[2]),
  hash: BigUint64Array.from(entries, (e) => e[3]),
});

describe('record types', () => {
  it('names known, unknown and optional types', () => {
    expect(recordTypeName(RecordType.PAGE_DATA)).toBe('PAGE_DATA');
    expect(recordTypeName(0x99)).toBe('UNKNOWN(0x00000099)');
    expect(recordTypeName(RecordType.OPTIONAL | 0x99)).toBe('UNKNOWN(0x80000099, optional)');
  });
});

describe('GEOMETRY', () => {
  it('round-trips', () => {
    const g = { pageSize: 4096, sectorSize: 512, pageCount: 2 ** 32 };
    const body = encodeGeometry(g);
    validateGeometry(body, AT);
    expect(decodeGeometry(body)).toEqual(g);
  });

  it('rejects a short body, other page or sector sizes, and extra bytes', () => {
    const body = encodeGeometry({ pageSize: 4096, sectorSize: 512, pageCount: 1 });
    rejects(
      () => validateGeometry(body.subarray(0, 12), AT),
      'GEOMETRY',
      /^GEOMETRY record truncated: length 12, min 16/,
    );
    const other = encodeGeometry({ pageSize: 8192, sectorSize: 512, pageCount: 1 });
    rejects(() => validateGeometry(other, AT), 'GEOMETRY', /page size 8192 is not supported, expected 4096/);
    const sectors = encodeGeometry({ pageSize: 4096, sectorSize: 4096, pageCount: 1 });
    rejects(() => validateGeometry(sectors, AT), 'GEOMETRY', /sector size 4096 is not supported/);
    const huge = encodeGeometry({ pageSize: 4096, sectorSize: 512, pageCount: 2 ** 32 + 1 });
    rejects(() => validateGeometry(huge, AT), 'GEOMETRY', /page count too large/);
    const long = new Uint8Array(24);
    long.set(body);
    rejects(
      () => validateGeometry(long, AT),
      'GEOMETRY',
      /^GEOMETRY record wrong size: length 24, expected 16/,
    );
  });
});

describe('DISK', () => {
  it('round-trips, including a non-ASCII uuid', () => {
    const d = { id: 51712, sectors: 2 ** 40, uuid: 'snap-ü-€' };
    const body = encodeDisk(d);
    validateDisk(body, AT);
    expect(decodeDisk(body)).toEqual(d);
  });

  it('rejects a short body, an oversized or cut uuid, bad UTF-8 and extra bytes', () => {
    const body = encodeDisk({ id: 1, sectors: 8, uuid: 'abcd' });
    rejects(
      () => validateDisk(body.subarray(0, 10), AT),
      'DISK',
      /^DISK record truncated: length 10, min 16/,
    );
    rejects(
      () => validateDisk(body.subarray(0, 18), AT),
      'DISK',
      /^DISK record truncated: length 18, min 20 for a 4-byte uuid/,
    );
    const huge = body.slice();
    new DataView(huge.buffer).setUint32(4, 5000, true);
    rejects(() => validateDisk(huge, AT), 'DISK', /uuid length 5000, max 1024/);
    const bad = body.slice();
    bad[16] = 0xff;
    rejects(() => validateDisk(bad, AT), 'DISK', /not valid UTF-8/);
    const long = new Uint8Array(body.length + 4);
    long.set(body);
    rejects(() => validateDisk(long, AT), 'DISK', /^DISK record wrong size: length 24, expected 20/);
  });
});

describe('STATE', () => {
  it('carries any bytes, copied out of the reader buffer', () => {
    const state = Uint8Array.of(1, 2, 3);
    const body = encodeState(state);
    validateState(body, AT);
    const decoded = decodeState(body);
    expect(decoded).toEqual(state);
    body[0] = 9;
    expect(decoded[0]).toBe(1);
  });
});

describe('MAP', () => {
  const m = mapOf([
    [3, 0, 992, 0xfedcba9876543210n],
    [1, 0, 5, 1n],
  ]);

  it('round-trips', () => {
    const body = encodeMap(m);
    validateMap(body, AT, ctx);
    expect(decodeMap(body)).toEqual(m);
  });

  it('checks length, then count, then items, then the exact total', () => {
    rejects(() => validateMap(u32s(1), AT, ctx), 'MAP', /^MAP record truncated: length 4, min 8/);
    rejects(() => validateMap(u32s(0, 0), AT, ctx), 'MAP', /^MAP record has no entries, expected at least 1/);
    rejects(() => validateMap(u32s(65537, 0), AT, ctx), 'MAP', /^MAP record has 65537 entries, max 65536/);
    const body = encodeMap(m);
    rejects(
      () => validateMap(body.subarray(0, 40), AT, ctx),
      'MAP',
      /^MAP record truncated: length 40, min 56 for 2 entries/,
    );
    rejects(
      () => validateMap(encodeMap(mapOf([[64, 0, 0, 0n]])), AT, ctx),
      'MAP',
      /pfn 64 beyond page count 64/,
    );
    rejects(
      () => validateMap(encodeMap(mapOf([[1, 2, 0, 0n]])), AT, ctx),
      'MAP',
      /disk 2 has no DISK record/,
    );
    rejects(
      () => validateMap(encodeMap(mapOf([[1, 0, 993, 0n]])), AT, ctx),
      'MAP',
      /page 1 at sector 993 lies beyond the end of disk 0 \(1000 sectors\)/,
    );
    const long = new Uint8Array(body.length + 8);
    long.set(body);
    rejects(() => validateMap(long, AT, ctx), 'MAP', /^MAP record wrong size: length 64, expected 56/);
  });
});

describe('ZERO', () => {
  const z = { count: 2, start: Uint32Array.of(0, 10), pages: Uint32Array.of(4, 54) };

  it('round-trips', () => {
    const body = encodeZero(z);
    validateZero(body, AT, ctx);
    expect(decodeZero(body)).toEqual(z);
  });

  it('checks length, then count, then extents, then the exact total', () => {
    rejects(() => validateZero(u32s(1), AT, ctx), 'ZERO', /^ZERO record truncated: length 4, min 8/);
    rejects(() => validateZero(u32s(0, 0), AT, ctx), 'ZERO', /^ZERO record has no extents/);
    rejects(() => validateZero(u32s(65537, 0), AT, ctx), 'ZERO', /^ZERO record has 65537 extents, max 65536/);
    rejects(
      () => validateZero(u32s(2, 0, 0, 1), AT, ctx),
      'ZERO',
      /^ZERO record truncated: length 16, min 24 for 2 extents/,
    );
    rejects(() => validateZero(u32s(1, 0, 5, 0), AT, ctx), 'ZERO', /extent 0 at pfn 5 is empty/);
    rejects(() => validateZero(u32s(1, 0, 60, 5), AT, ctx), 'ZERO', /pages 60\.\.64 beyond page count 64/);
    rejects(
      () => validateZero(u32s(1, 0, 0, 1, 0), AT, ctx),
      'ZERO',
      /^ZERO record wrong size: length 20, expected 16/,
    );
  });
});

describe('PAGE_DATA', () => {
  const pages = new Uint8Array(3 * 4096).map((_, i) => i % 253);
  const p = { count: 3, pfn: Uint32Array.of(7, 2, 63), pages };

  it('round-trips, with the pages 8-aligned after the pfn array', () => {
    const body = encodePageData(p);
    expect(body.length).toBe(8 + 16 + 3 * 4096);
    validatePageData(body, AT, ctx);
    const decoded = decodePageData(body);
    expect(decoded.pfn).toEqual(p.pfn);
    expect(decoded.pages).toEqual(pages);
    expect(decoded.pages.byteOffset % 8).toBe(0);
  });

  it('checks length, then count, then pfns, then the exact total', () => {
    rejects(
      () => validatePageData(u32s(1), AT, ctx),
      'PAGE_DATA',
      /^PAGE_DATA record truncated: length 4, min 8/,
    );
    rejects(() => validatePageData(u32s(0, 0), AT, ctx), 'PAGE_DATA', /^PAGE_DATA record has no pages/);
    rejects(
      () => validatePageData(u32s(1025, 0), AT, ctx),
      'PAGE_DATA',
      /^PAGE_DATA record has 1025 pages, max 1024/,
    );
    rejects(
      () => validatePageData(u32s(2, 0, 1), AT, ctx),
      'PAGE_DATA',
      /^PAGE_DATA record truncated: length 12, min 16 for 2 pfns/,
    );
    rejects(() => validatePageData(u32s(1, 0, 64, 0), AT, ctx), 'PAGE_DATA', /pfn 64 beyond page count 64/);
    const body = encodePageData(p);
    rejects(
      () => validatePageData(body.subarray(0, body.length - 1), AT, ctx),
      'PAGE_DATA',
      /^PAGE_DATA record wrong size: length 12311, expected 12312/,
    );
  });
});

describe('END', () => {
  it('round-trips', () => {
    const c = { pagesMapped: 1, pagesZero: 2, pagesData: 3 };
    const body = encodeEnd(c);
    validateEnd(body, AT);
    expect(decodeEnd(body)).toEqual(c);
  });

  it('rejects other sizes and impossible counts', () => {
    rejects(() => validateEnd(new Uint8Array(16), AT), 'END', /^END record truncated: length 16, min 24/);
    rejects(
      () => validateEnd(new Uint8Array(32), AT),
      'END',
      /^END record wrong size: length 32, expected 24/,
    );
    const body = encodeEnd({ pagesMapped: 2 ** 33, pagesZero: 0, pagesData: 0 });
    rejects(() => validateEnd(body, AT), 'END', /pages_mapped too large/);
  });
});
