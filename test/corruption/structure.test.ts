/**
 * Images whose every checksum is valid but whose structure is wrong: records rebuilt by hand, as a
 * buggy writer (or a malicious file) would produce them.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError } from '../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../core/hash.ts';
import { RecordType } from '../../core/image/format.ts';
import { inspectImage, restoreImage } from '../../core/image/index.ts';
import { encodeDisk } from '../../core/image/records/disk.ts';
import { encodeEnd } from '../../core/image/records/end.ts';
import { encodeGeometry } from '../../core/image/records/geometry.ts';
import { encodeMap } from '../../core/image/records/map.ts';
import { encodePageData } from '../../core/image/records/page-data.ts';
import { encodeZero } from '../../core/image/records/zero.ts';
import { SECTORS_PER_PAGE } from '../../core/ports.ts';
import {
  ArrayBlockStore,
  ArrayMemory,
  joinImage,
  tempDir,
  type ImageRecord,
} from '../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-structure-');
});
afterAll(() => tmp.cleanup());

// A 4-page guest: page 0 mapped to disk 0 sectors 8..15, page 1 zero, pages 2-3 data.
const disk = { id: 0, sectors: 64, uuid: 'd0' };
const blocks = new ArrayBlockStore([disk]);
blocks.sectors(0, 8, SECTORS_PER_PAGE).fill(0x5a);

const page0 = blocks.sectors(0, 8, SECTORS_PER_PAGE);

function mapOf(pfn: number, sector: number, hash?: bigint): ImageRecord {
  const body = encodeMap({
    count: 1,
    pfn: Uint32Array.of(pfn),
    disk: Uint32Array.of(0),
    sector: Float64Array.of(sector),
    hash: BigUint64Array.of(hash ?? hasher.hash64(page0)),
  });
  return { type: RecordType.MAP, body };
}

function dataOf(...pfns: number[]): ImageRecord {
  const pages = new Uint8Array(pfns.length * 4096).fill(0x33);
  return {
    type: RecordType.PAGE_DATA,
    body: encodePageData({ count: pfns.length, pfn: Uint32Array.from(pfns), pages }),
  };
}

function zeroOf(start: number, pages: number): ImageRecord {
  return {
    type: RecordType.ZERO,
    body: encodeZero({ count: 1, start: Uint32Array.of(start), pages: Uint32Array.of(pages) }),
  };
}

function endOf(mapped = 1, zero = 1, data = 2): ImageRecord {
  return { type: RecordType.END, body: encodeEnd({ pagesMapped: mapped, pagesZero: zero, pagesData: data }) };
}

const geometry = (): ImageRecord => ({
  type: RecordType.GEOMETRY,
  body: encodeGeometry({ pageSize: 4096, sectorSize: 512, pageCount: 4 }),
});
const diskRec = (): ImageRecord => ({ type: RecordType.DISK, body: encodeDisk(disk) });
const state = (): ImageRecord => ({ type: RecordType.STATE, body: Uint8Array.of(1, 2, 3) });

/** The well-formed image: page 0 mapped, page 1 zero, pages 2-3 data. */
const valid = (): ImageRecord[] => [
  geometry(),
  diskRec(),
  state(),
  mapOf(0, 8),
  zeroOf(1, 1),
  dataOf(2, 3),
  endOf(),
];

async function restoreRecords(recs: ImageRecord[]) {
  const path = tmp.path('structure.img');
  await writeFile(path, joinImage(hasher, recs));
  const memory = new ArrayMemory(4, 0xaa);
  const error = await restoreImage(path, { memory, blocks, hasher }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, memory, path };
}

async function rejected(recs: ImageRecord[], record: string, message: RegExp): Promise<void> {
  const { error, path } = await restoreRecords(recs);
  expect(error).toBeInstanceOf(ImageFormatError);
  expect(error).toMatchObject({ record });
  expect((error as Error).message).toMatch(message);
  await expect(inspectImage(path)).rejects.toThrow(ImageFormatError);
}

describe('image structure', () => {
  it('restores the hand-built reference image', async () => {
    const { error, memory } = await restoreRecords(valid());
    expect(error).toBeUndefined();
    expect(memory.page(0)).toEqual(page0);
    expect(memory.page(1).every((b) => b === 0)).toBe(true);
    expect(memory.bytes.subarray(2 * 4096).every((b) => b === 0x33)).toBe(true);
  });

  it('requires GEOMETRY first', async () => {
    const [g, d, ...rest] = valid();
    await rejected(
      [d!, g!, ...rest],
      'DISK',
      /^DISK record before GEOMETRY: GEOMETRY must be the first record/,
    );
  });

  it('rejects records out of order', async () => {
    const [g, d, s, ...rest] = valid();
    await rejected([g!, s!, d!, ...rest], 'DISK', /^DISK record out of order: it must come before STATE/);
    const [, , , m, z, pd, e] = valid();
    await rejected(
      [g!, d!, s!, pd!, m!, z!, e!],
      'MAP',
      /^MAP record out of order: it must come before PAGE_DATA/,
    );
  });

  it('rejects a MAP entry whose disk has no DISK record', async () => {
    const recs = valid().filter((r) => r.type !== RecordType.DISK);
    await rejected(recs, 'MAP', /^MAP entry 0: disk 0 has no DISK record/);
  });

  it('rejects a missing STATE record', async () => {
    const recs = valid().filter((r) => r.type !== RecordType.STATE);
    await rejected(recs, 'MAP', /^MAP record before STATE: the image has no STATE record/);
  });

  it('rejects duplicate GEOMETRY, STATE and DISK records', async () => {
    const [g, d, s, ...rest] = valid();
    await rejected([g!, g!, d!, s!, ...rest], 'GEOMETRY', /^Duplicate GEOMETRY record/);
    await rejected([g!, d!, s!, s!, ...rest], 'STATE', /^Duplicate STATE record/);
    await rejected([g!, d!, d!, s!, ...rest], 'DISK', /^Duplicate DISK record for disk 0/);
  });

  it('rejects records after END', async () => {
    const recs = valid();
    await rejected([...recs, dataOf(2)], 'END', /^Unexpected data after END/);
    await rejected([...recs, endOf()], 'END', /^Unexpected data after END/);
  });

  it('rejects MAP entries that are not sorted across records', async () => {
    const [g, d, s] = valid();
    const recs = [g!, d!, s!, mapOf(0, 16), mapOf(2, 8), zeroOf(1, 1), dataOf(3), endOf(2, 1, 1)];
    await rejected(recs, 'MAP', /^MAP entry 0 \(page 2, disk 0, sector 8\) is out of order/);
  });

  it('names a page that is missing', async () => {
    const recs = valid().map((r) => (r.type === RecordType.PAGE_DATA ? dataOf(2) : r));
    await rejected(
      recs.map((r) => (r.type === RecordType.END ? endOf(1, 1, 1) : r)),
      'END',
      /^Page 3 is missing from the image/,
    );
  });

  it('names a page that appears twice, within or across records', async () => {
    const [g, d, s, m] = valid();
    await rejected(
      [g!, d!, s!, m!, zeroOf(1, 1), dataOf(2, 3), dataOf(3), endOf(1, 1, 3)],
      'PAGE_DATA',
      /^page 3 appears twice in the image \(again in this PAGE_DATA record\)/,
    );
    await rejected(
      [g!, d!, s!, m!, zeroOf(0, 2), dataOf(2, 3), endOf(1, 2, 2)],
      'ZERO',
      /^page 0 appears twice/,
    );
    await rejected(
      [g!, d!, s!, m!, zeroOf(1, 1), dataOf(2, 2, 3), endOf()],
      'PAGE_DATA',
      /^page 2 appears twice/,
    );
  });

  it('rejects END counts that disagree with the records', async () => {
    const recs = valid().map((r) => (r.type === RecordType.END ? endOf(1, 2, 1) : r));
    await rejected(
      recs,
      'END',
      /^END counts \(mapped 1, zero 2, data 1\) disagree with the records \(mapped 1, zero 1, data 2\)/,
    );
  });

  it('refuses a mapped page whose recorded hash does not match the disk', async () => {
    const recs = valid().map((r) => (r.type === RecordType.MAP ? mapOf(0, 8, 0x1234n) : r));
    const { error, memory } = await restoreRecords(recs);
    expect((error as Error).message).toMatch(
      /^page 0 \(disk 0, sector 8\): content hash mismatch.*expected 0x0000000000001234/,
    );
    expect(memory.page(0).every((b) => b === 0xaa)).toBe(true);
  });
});
