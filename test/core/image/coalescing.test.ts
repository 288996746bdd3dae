import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { RUN_MAX_GAP_SECTORS, RUN_MAX_SECTORS } from '../../../core/image/sector-runs.ts';
import {
  inputOf,
  makeGuest,
  targetOf,
  tempDir,
  type MappedPage,
  type SectorRead,
} from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

/** Writes a p2b image of a guest with these mapped pages; returns the reads of verify and of restore. */
async function readsFor(pages: number, diskSectors: number[], mapped: MappedPage[]) {
  const g = makeGuest({ pages, diskSectors, mapped });
  const path = tmp.path('coalesce.img');
  await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
  const verify: SectorRead[] = g.blocks.reads.splice(0);
  const target = targetOf(g, hasher);
  const stats = await restoreImage(path, target);
  expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  expect(stats.diskReads).toBe(g.blocks.reads.length);
  return { verify, restore: g.blocks.reads, stats };
}

describe('mapped pages are read with coalesced disk reads', () => {
  it('reads N adjacent mapped pages with one read, whatever their pfn order', async () => {
    const mapped = Array.from({ length: 8 }, (_, i) => ({ pfn: 7 - i, disk: 0, sector: 64 + 8 * i }));
    const { restore, stats } = await readsFor(8, [256], mapped);
    expect(restore).toEqual([{ disk: 0, sector: 64, count: 64 }]);
    expect(stats.bytesReadDisk).toBe(64 * 512);
  });

  it('reads pages further apart than RUN_MAX_GAP_SECTORS separately, in ascending sector order', async () => {
    const far = 8 + RUN_MAX_GAP_SECTORS + 1; // one sector more than a read spans after a page
    const mapped = [
      { pfn: 0, disk: 0, sector: 16 + 3 * far },
      { pfn: 1, disk: 0, sector: 16 },
      { pfn: 2, disk: 0, sector: 16 + 2 * far },
      { pfn: 3, disk: 0, sector: 16 + far },
    ];
    const { restore } = await readsFor(4, [512], mapped);
    expect(restore).toEqual([
      { disk: 0, sector: 16, count: 8 },
      { disk: 0, sector: 16 + far, count: 8 },
      { disk: 0, sector: 16 + 2 * far, count: 8 },
      { disk: 0, sector: 16 + 3 * far, count: 8 },
    ]);
  });

  it('reads pages across a gap of up to RUN_MAX_GAP_SECTORS with one read, gap included', async () => {
    const mapped = [
      { pfn: 0, disk: 0, sector: 16 + 8 + RUN_MAX_GAP_SECTORS },
      { pfn: 1, disk: 0, sector: 16 },
      { pfn: 2, disk: 0, sector: 25 },
    ];
    const { restore, stats } = await readsFor(3, [512], mapped);
    expect(restore).toEqual([{ disk: 0, sector: 16, count: 8 + RUN_MAX_GAP_SECTORS + 8 }]);
    expect(stats.bytesReadDisk).toBe((16 + RUN_MAX_GAP_SECTORS) * 512);
  });

  it('joins unaligned and overlapping ranges into one read', async () => {
    const mapped = [
      { pfn: 0, disk: 0, sector: 3 },
      { pfn: 1, disk: 0, sector: 7 },
      { pfn: 2, disk: 0, sector: 15 },
    ];
    const { restore } = await readsFor(3, [64], mapped);
    expect(restore).toEqual([{ disk: 0, sector: 3, count: 20 }]);
  });

  it('reads sectors shared by several pages once', async () => {
    const mapped = [0, 1, 2].map((pfn) => ({ pfn, disk: 0, sector: 40 }));
    const { restore, stats } = await readsFor(3, [64], mapped);
    expect(restore).toEqual([{ disk: 0, sector: 40, count: 8 }]);
    expect(stats.pagesMapped).toBe(3);
  });

  it('caps a read at 1 MiB', async () => {
    const mapped = Array.from({ length: 300 }, (_, i) => ({ pfn: i, disk: 0, sector: 8 * i }));
    const { restore } = await readsFor(300, [2400], mapped);
    expect(RUN_MAX_SECTORS * 512).toBe(1024 * 1024);
    expect(restore).toEqual([
      { disk: 0, sector: 0, count: RUN_MAX_SECTORS },
      { disk: 0, sector: RUN_MAX_SECTORS, count: 2400 - RUN_MAX_SECTORS },
    ]);
  });

  it('never joins reads across disks', async () => {
    const mapped = [
      { pfn: 0, disk: 1, sector: 0 },
      { pfn: 1, disk: 0, sector: 8 },
      { pfn: 2, disk: 0, sector: 0 },
    ];
    const { restore } = await readsFor(3, [16, 16], mapped);
    expect(restore).toEqual([
      { disk: 0, sector: 0, count: 16 },
      { disk: 1, sector: 0, count: 8 },
    ]);
  });

  it('verifies at write time with the same reads the restore makes', async () => {
    const mapped = [
      { pfn: 4, disk: 0, sector: 3 },
      { pfn: 1, disk: 0, sector: 11 },
      { pfn: 2, disk: 0, sector: 200 },
      { pfn: 0, disk: 1, sector: 0 },
    ];
    const { verify, restore } = await readsFor(6, [256, 8], mapped);
    expect(verify).toEqual(restore);
    expect(restore).toEqual([
      { disk: 0, sector: 3, count: 16 },
      { disk: 0, sector: 200, count: 8 },
      { disk: 1, sector: 0, count: 8 },
    ]);
  });
});
