/**
 * Pins the on-disk sizes of docs/image-format.md: a change here is a format change and needs a new
 * version (or a new record type), not a test update.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { encodeFileHeader } from '../../../core/image/file-header.ts';
import {
  FILE_HEADER_SIZE,
  FORMAT_VERSION,
  framedSize,
  MAGIC,
  MAP_MAX_ENTRIES,
  PAGE_DATA_MAX_PAGES,
  REC_ALIGN,
  REC_LENGTH_MAX,
  RecordType,
  ZERO_MAX_EXTENTS,
} from '../../../core/image/format.ts';
import { frameRecord } from '../../../core/image/frame.ts';
import { encodeDisk } from '../../../core/image/records/disk.ts';
import { END_LENGTH } from '../../../core/image/records/end.ts';
import { GEOMETRY_LENGTH } from '../../../core/image/records/geometry.ts';
import { mapLength } from '../../../core/image/records/map.ts';
import { pageDataLength } from '../../../core/image/records/page-data.ts';
import { zeroLength } from '../../../core/image/records/zero.ts';
import { inspectImage, POLICIES, writeImage } from '../../../core/image/index.ts';
import { inputOf, makeGuest, tempDir } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

describe('format constants', () => {
  it('pins magic, version, header, alignment and limits', () => {
    expect([...MAGIC]).toEqual([0x89, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x0d, 0x0a]);
    expect(FORMAT_VERSION).toEqual({ major: 1, minor: 0 });
    expect(FILE_HEADER_SIZE).toBe(24);
    expect(encodeFileHeader(hasher).length).toBe(24);
    expect(REC_ALIGN).toBe(8);
    expect(REC_LENGTH_MAX).toBe(64 * 1024 * 1024);
    expect(PAGE_DATA_MAX_PAGES).toBe(1024);
    expect(MAP_MAX_ENTRIES).toBe(65536);
    expect(ZERO_MAX_EXTENTS).toBe(65536);
  });

  it('pins record type numbers and the optional bit', () => {
    expect(RecordType).toEqual({
      END: 0,
      GEOMETRY: 1,
      DISK: 2,
      STATE: 3,
      MAP: 4,
      ZERO: 5,
      PAGE_DATA: 6,
      OPTIONAL: 0x8000_0000,
    });
  });
});

describe('record sizes', () => {
  it('frames a body with an 8-byte header, zero padding to 8 and an 8-byte checksum', () => {
    expect([0, 1, 7, 8, 9, 16].map(framedSize)).toEqual([16, 24, 24, 24, 32, 32]);
    const rec = frameRecord(RecordType.STATE, Uint8Array.of(1, 2, 3), hasher);
    expect(rec.length).toBe(24);
    expect([...rec.subarray(0, 16)]).toEqual([3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0]);
  });

  it('pins every record body layout', () => {
    expect(GEOMETRY_LENGTH).toBe(16);
    expect(END_LENGTH).toBe(24);
    expect(encodeDisk({ id: 1, sectors: 8, uuid: 'abc' }).length).toBe(16 + 3);
    expect(mapLength(1)).toBe(8 + 24);
    expect(mapLength(MAP_MAX_ENTRIES)).toBe(8 + 24 * 65536);
    expect(zeroLength(3)).toBe(8 + 3 * 8);
    expect(pageDataLength(1)).toBe(8 + 8 + 4096);
    expect(pageDataLength(2)).toBe(8 + 8 + 2 * 4096);
    expect(pageDataLength(3)).toBe(8 + 16 + 3 * 4096);
    expect(framedSize(pageDataLength(PAGE_DATA_MAX_PAGES))).toBe(4_198_424);
  });
});

describe('image sizes', () => {
  // 16 pages; pages 0-3 mapped to sectors 0..31 of one disk; pages 8-10 zero; a 100-byte state.
  // Common part: header 24 + GEOMETRY 32 + DISK ('disk-0-snap-1', 13 bytes) 48 + STATE 120 + END 40 = 264.
  const guest = () =>
    makeGuest({
      pages: 16,
      diskSectors: [256],
      mapped: [0, 1, 2, 3].map((pfn) => ({ pfn, disk: 0, sector: 8 * pfn })),
      zeroPages: [8, 9, 10],
      state: new Uint8Array(100),
    });

  it.each([
    // PAGE_DATA of 16 pages: 24 + 64 + 16 * 4096.
    ['baseline', 264 + 65_624],
    // MAP of 4 entries: 16 + 8 + 96; PAGE_DATA of 12 pages: 24 + 48 + 12 * 4096.
    ['p2b', 264 + 120 + 49_224],
    // MAP 120; ZERO of one extent: 32; PAGE_DATA of 9 pages: 24 + 40 + 9 * 4096.
    ['p2b+zero', 264 + 120 + 32 + 36_928],
  ] as const)('a %s image of the reference guest is %i bytes', async (policy, bytes) => {
    const path = tmp.path(`${policy}.img`);
    const stats = await writeImage(path, inputOf(guest(), hasher), POLICIES[policy]);
    expect(stats.bytes).toBe(bytes);
    expect((await inspectImage(path)).bytes).toBe(bytes);
  });
});
