import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError } from '../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { FORMAT_VERSION, inspectImage, POLICIES, writeImage } from '../../../core/image/index.ts';
import { inputOf, makeGuest, tempDir } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

describe('inspectImage', () => {
  it('summarises geometry, disks, counts and per-record byte totals that add up to the file size', async () => {
    const g = makeGuest({
      pages: 20,
      diskSectors: [128, 64],
      mapped: [
        { pfn: 1, disk: 0, sector: 0 },
        { pfn: 2, disk: 1, sector: 8 },
      ],
      zeroPages: [5, 6, 9],
      state: new Uint8Array(77),
    });
    const path = tmp.path('inspect.img');
    const written = await writeImage(path, inputOf(g, hasher), POLICIES['p2b+zero']);
    const summary = await inspectImage(path);
    expect(summary).toEqual({
      path,
      bytes: written.bytes,
      version: FORMAT_VERSION,
      pageSize: 4096,
      sectorSize: 512,
      pageCount: 20,
      disks: g.disks,
      stateBytes: 77,
      pagesMapped: 2,
      pagesZero: 3,
      pagesData: 15,
      records: {
        header: { count: 1, bytes: 24 },
        GEOMETRY: { count: 1, bytes: 32 },
        DISK: { count: 2, bytes: 96 },
        STATE: { count: 1, bytes: 96 },
        MAP: { count: 1, bytes: 72 },
        ZERO: { count: 1, bytes: 40 },
        PAGE_DATA: { count: 1, bytes: 24 + 64 + 15 * 4096 },
        END: { count: 1, bytes: 40 },
      },
    });
    const total = Object.values(summary.records).reduce((n, r) => n + r.bytes, 0);
    expect(total).toBe(summary.bytes);
  });

  it('needs no disks, but still verifies every checksum', async () => {
    const g = makeGuest({ pages: 4, diskSectors: [64], mapped: [{ pfn: 0, disk: 0, sector: 0 }] });
    const path = tmp.path('inspect-corrupt.img');
    await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
    const { readFile, writeFile } = await import('node:fs/promises');
    const bytes = await readFile(path);
    bytes[bytes.length - 100]! ^= 1;
    await writeFile(path, bytes);
    await expect(inspectImage(path)).rejects.toThrow(ImageFormatError);
  });
});
