import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { sortedSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import { framedSize } from '../../../core/image/format.ts';
import { pageDataLength } from '../../../core/image/records/page-data.ts';
import { PAGE_SIZE } from '../../../core/ports.ts';
import {
  ArrayBlockStore,
  fillRandom,
  inputOf,
  makeGuest,
  PatternMemory,
  targetOf,
  tempDir,
} from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

describe('streaming writer', () => {
  it('reads every page from memory exactly once, and a demoted page once more', async () => {
    const g = makeGuest({
      pages: 40,
      diskSectors: [512],
      mapped: Array.from({ length: 10 }, (_, i) => ({ pfn: 3 * i, disk: 0, sector: 16 * i })),
      zeroPages: [1, 2, 4],
    });
    await writeImage(tmp.path('once.img'), inputOf(g, hasher), POLICIES['p2b+zero']);
    expect([...g.memory.reads]).toEqual(new Array(40).fill(1));
    g.memory.reads.fill(0);
    g.blocks.sectors(0, 16 * 2, 1)[0]! ^= 1; // page 6 no longer matches
    const stats = await writeImage(tmp.path('once.img'), inputOf(g, hasher), POLICIES['p2b+zero']);
    expect(stats.pagesDemoted).toBe(1);
    expect([...g.memory.reads]).toEqual(Array.from({ length: 40 }, (_, pfn) => (pfn === 6 ? 2 : 1)));
  });

  it('checks and writes pages in place when memory offers page views: same bytes, no copies', async () => {
    const g = makeGuest({
      pages: 40,
      diskSectors: [512],
      mapped: Array.from({ length: 10 }, (_, i) => ({ pfn: 3 * i, disk: 0, sector: 16 * i })),
    });
    g.blocks.sectors(0, 16 * 2, 1)[0]! ^= 1; // page 6 no longer matches: demoted either way
    const copied = tmp.path('copied.img');
    await writeImage(copied, inputOf(g, hasher), POLICIES.p2b);
    g.memory.reads.fill(0);
    const memory = Object.assign(Object.create(g.memory) as typeof g.memory, {
      pageView: (pfn: number) => g.memory.page(pfn),
    });
    const viewed = tmp.path('viewed.img');
    const stats = await writeImage(viewed, { ...inputOf(g, hasher), memory }, POLICIES.p2b);
    expect(stats).toMatchObject({ pagesMapped: 9, pagesDemoted: 1 });
    expect(Buffer.compare(await readFile(viewed), await readFile(copied))).toBe(0);
    // No page was copied out of memory: mapped pages are compared and data pages written in place.
    expect([...g.memory.reads]).toEqual(new Array(40).fill(0));
  });

  it('splits data into PAGE_DATA records of 1024 pages across several buffers', async () => {
    const g = makeGuest({ pages: 3000, diskSectors: [64], zeroPages: [1024, 2999] });
    const path = tmp.path('big.img');
    const stats = await writeImage(path, inputOf(g, hasher), POLICIES['p2b+zero']);
    expect(stats).toMatchObject({ pagesData: 2998, pagesZero: 2 });
    const summary = await inspectImage(path);
    expect(summary.records['PAGE_DATA']).toEqual({
      count: 3,
      bytes: 2 * (24 + 4096 + 1024 * PAGE_SIZE) + (24 + 3800 + 950 * PAGE_SIZE),
    });
    expect(summary.records['ZERO']?.count).toBe(1);
    const target = targetOf(g, hasher);
    await restoreImage(path, target);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  });

  it('verifies mapped pages while writing, and moves several buffers of pages when some are demoted', async () => {
    // 4000 pages (16 MiB, two sink buffers), 1500 mapped: the verification runs during the writes.
    const spec = {
      pages: 4000,
      diskSectors: [16000],
      mapped: Array.from({ length: 1500 }, (_, i) => ({ pfn: 2 * i + 1, disk: 0, sector: 8 * i })),
    };
    const clean = makeGuest(spec);
    const cleanPath = tmp.path('overlap-clean.img');
    const ok = await writeImage(cleanPath, inputOf(clean, hasher), POLICIES.p2b);
    expect(ok).toMatchObject({ pagesMapped: 1500, pagesDemoted: 0, pagesData: 2500 });
    const g = makeGuest(spec);
    for (const i of [0, 700, 1499]) g.blocks.sectors(0, 8 * i, 1)[0]! ^= 1;
    const path = tmp.path('overlap-demoted.img');
    const stats = await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
    expect(stats).toMatchObject({ pagesMapped: 1497, pagesDemoted: 3, pagesData: 2503 });
    // The MAP is 3 entries shorter and the demoted pages add one small PAGE_DATA record.
    const summary = await inspectImage(path);
    expect(summary.records['MAP']?.bytes).toBe(
      (await inspectImage(cleanPath)).records['MAP']!.bytes - 3 * 24,
    );
    expect(summary.records['PAGE_DATA']?.count).toBe(4);
    expect(stats.bytes).toBe(ok.bytes - 3 * 24 + framedSize(pageDataLength(3)));
    const target = targetOf(g, hasher);
    const restored = await restoreImage(path, target);
    expect(restored.pagesMapped).toBe(1497);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  });

  it('writes a state larger than the output buffer around the buffer, and restores it', async () => {
    const state = new Uint8Array(9 * 1024 * 1024 + 5);
    fillRandom(state, 7);
    const g = {
      ...makeGuest({ pages: 5, diskSectors: [64], mapped: [{ pfn: 1, disk: 0, sector: 0 }] }),
      state,
    };
    const path = tmp.path('big-state.img');
    await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
    expect((await inspectImage(path)).stateBytes).toBe(state.length);
    const target = targetOf(g, hasher);
    const restored = await restoreImage(path, target);
    expect(Buffer.compare(restored.state, state)).toBe(0);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  });

  it('refuses a state larger than a record can hold', async () => {
    const g = { ...makeGuest({ pages: 1, diskSectors: [] }), state: new Uint8Array(64 * 1024 * 1024 + 1) };
    await expect(
      writeImage(tmp.path('huge-state.img'), inputOf(g, hasher), POLICIES.baseline),
    ).rejects.toThrow(/device state of 67108865 bytes exceeds 67108864/);
    expect(await tmp.files()).not.toContain('huge-state.img');
  });

  it('splits MAP and ZERO records at their limits and restores across record boundaries', async () => {
    // 131074 pages (512 MiB, computed, never held): even pages zero, odd pages all mapped to sectors 0-7.
    const pages = 2 * 65537;
    const disk = { id: 0, sectors: 64, uuid: 'shared' };
    const blocks = new ArrayBlockStore([disk]);
    fillRandom(blocks.bytes(0), 42);
    const content = blocks.sectors(0, 0, 8);
    const pattern = (pfn: number, dst: Uint8Array) => (pfn % 2 === 0 ? dst.fill(0) : dst.set(content));
    const mappedPfns = Uint32Array.from({ length: 65537 }, (_, i) => 2 * i + 1);
    const mapping = sortedSnapshot(mappedPfns, new Uint32Array(65537), new Float64Array(65537));
    const path = tmp.path('limits.img');
    const input = {
      memory: new PatternMemory(pages, pattern),
      disks: [disk],
      state: new Uint8Array(8),
      mapping,
      blocks,
      hasher,
    };
    const stats = await writeImage(path, input, POLICIES['p2b+zero']);
    expect(stats).toMatchObject({ pagesMapped: 65537, pagesZero: 65537, pagesData: 0 });
    const summary = await inspectImage(path);
    expect(summary.records['MAP']?.count).toBe(2);
    expect(summary.records['ZERO']?.count).toBe(2);
    expect(summary.records['PAGE_DATA']).toBeUndefined();

    const memory = new PatternMemory(pages, pattern);
    const restored = await restoreImage(path, { memory, blocks, hasher });
    expect(memory.written).toBe(pages);
    expect(memory.wrong).toEqual([]);
    // One run of shared sectors spans both MAP records.
    expect(restored.diskReads).toBe(1);
  });
});
