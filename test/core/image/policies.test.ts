import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, RestoreError } from '../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { sortedSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import { PAGE_SIZE } from '../../../core/ports.ts';
import { inputOf, makeGuest, targetOf, tempDir, type Guest } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

/** 32 pages: 0-9 mapped (contiguous on disk 0), 10-13 zero, 14 mapped to zero sectors, the rest data. */
function guest(): Guest {
  return makeGuest({
    pages: 32,
    diskSectors: [1024, 256],
    mapped: [
      ...Array.from({ length: 9 }, (_, i) => ({ pfn: i, disk: 0, sector: 64 + 8 * i })),
      { pfn: 9, disk: 1, sector: 13 },
      { pfn: 14, disk: 0, sector: 512 },
    ],
    zeroPages: [10, 11, 12, 13],
    zeroSectors: [[0, 512, 8]],
  });
}

async function roundTrip(g: Guest, policy: (typeof POLICIES)[keyof typeof POLICIES], name: string) {
  const path = tmp.path(name);
  const written = await writeImage(path, inputOf(g, hasher), policy);
  const target = targetOf(g, hasher);
  const restored = await restoreImage(path, target);
  expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  expect(restored.state).toEqual(g.state);
  return { written, restored, path };
}

describe('image policies', () => {
  it('baseline stores every page as data, ignoring the mapping and zero pages', async () => {
    const g = guest();
    const { written, restored } = await roundTrip(g, POLICIES.baseline, 'baseline.img');
    expect(written).toMatchObject({ pagesMapped: 0, pagesZero: 0, pagesData: 32, pagesDemoted: 0 });
    expect(restored).toMatchObject({ pagesMapped: 0, pagesZero: 0, pagesData: 32, diskReads: 0 });
    expect(written.bytes).toBeGreaterThan(32 * PAGE_SIZE);
  });

  it('baseline needs no block store and reads no disk while writing', async () => {
    const g = guest();
    const { blocks: _unused, ...withoutBlocks } = inputOf(g, hasher);
    await writeImage(tmp.path('baseline-noblocks.img'), withoutBlocks, POLICIES.baseline);
    expect(g.blocks.reads).toEqual([]);
  });

  it('p2b stores mapped pages as references, so its image is smaller by about a page per mapped page', async () => {
    const g = guest();
    const base = await writeImage(tmp.path('size-baseline.img'), inputOf(g, hasher), POLICIES.baseline);
    const { written } = await roundTrip(g, POLICIES.p2b, 'size-p2b.img');
    expect(written).toMatchObject({ pagesMapped: 11, pagesZero: 0, pagesData: 21, pagesDemoted: 0 });
    const saved = base.bytes - written.bytes;
    expect(saved).toBeGreaterThan(11 * (PAGE_SIZE - 64));
    expect(saved).toBeLessThanOrEqual(11 * (PAGE_SIZE + 4));
  });

  it('p2b without zero elision stores all-zero pages as data', async () => {
    const { written } = await roundTrip(guest(), POLICIES.p2b, 'p2b-zero-as-data.img');
    expect(written.pagesZero).toBe(0);
  });

  it('p2b+zero stores all-zero pages as extents and restores them as zeros over garbage', async () => {
    const g = guest();
    const plain = await writeImage(tmp.path('plain.img'), inputOf(g, hasher), POLICIES.p2b);
    const { written, restored, path } = await roundTrip(g, POLICIES['p2b+zero'], 'p2b-zero.img');
    expect(written).toMatchObject({ pagesMapped: 11, pagesZero: 4, pagesData: 17 });
    expect(restored.pagesZero).toBe(4);
    expect(plain.bytes - written.bytes).toBe(4 * (PAGE_SIZE + 4) - 32); // minus one 32-byte ZERO record
    const summary = await inspectImage(path);
    expect(summary.records['ZERO']).toEqual({ count: 1, bytes: 32 });
  });

  it('keeps a mapped all-zero page mapped: the mapping takes precedence over zero elision', async () => {
    const { written } = await roundTrip(guest(), POLICIES['p2b+zero'], 'mapped-zero.img');
    // Page 14 is all zero and mapped; pages 10-13 are the only ZERO pages.
    expect(written.pagesMapped).toBe(11);
    expect(written.pagesZero).toBe(4);
  });

  it('demotes a mapped page whose sectors do not hold its content, and still restores it exactly', async () => {
    const g = guest();
    g.blocks.sectors(0, 64 + 8 * 3, 1)[7]! ^= 0xff; // page 3's first sector differs on disk
    const { written, restored } = await roundTrip(g, POLICIES.p2b, 'demoted.img');
    expect(written).toMatchObject({ pagesMapped: 10, pagesDemoted: 1, pagesData: 22 });
    expect(restored.pagesMapped).toBe(10);
  });

  it('counts a demoted all-zero page as zero when zero pages are elided', async () => {
    const g = guest();
    g.blocks.sectors(0, 512, 1)[0] = 1; // page 14 (zero) no longer matches its sectors
    const { written } = await roundTrip(g, POLICIES['p2b+zero'], 'demoted-zero.img');
    expect(written).toMatchObject({ pagesMapped: 10, pagesDemoted: 1, pagesZero: 5, pagesData: 17 });
  });

  it('without verification writes a stale mapping as is, and the restore refuses it', async () => {
    const g = guest();
    g.blocks.sectors(1, 13, 8)[100]! ^= 1; // page 9's sectors changed, the mapping was not told
    const path = tmp.path('unverified.img');
    const policy = { ...POLICIES.p2b, verifyMapped: false };
    const written = await writeImage(path, inputOf(g, hasher), policy);
    expect(written).toMatchObject({ pagesMapped: 11, pagesDemoted: 0 });
    expect(g.blocks.reads).toEqual([]);
    const restoring = restoreImage(path, targetOf(g, hasher));
    await expect(restoring).rejects.toBeInstanceOf(RestoreError);
    await expect(restoring).rejects.toThrow(/^page 9 \(disk 1, sector 13\): content hash mismatch/);
  });

  it('p2b with an empty mapping is a baseline image', async () => {
    const g = makeGuest({ pages: 8, diskSectors: [64] });
    const { written } = await roundTrip(g, POLICIES.p2b, 'empty-map.img');
    expect(written).toMatchObject({ pagesMapped: 0, pagesData: 8 });
  });

  it('writes and restores a guest with no pages', async () => {
    const g = makeGuest({ pages: 0, diskSectors: [] });
    const { written } = await roundTrip(g, POLICIES['p2b+zero'], 'no-pages.img');
    expect(written).toMatchObject({ pagesMapped: 0, pagesZero: 0, pagesData: 0 });
  });
});

describe('mapping errors', () => {
  async function refuses(g: Guest, message: RegExp, policy = POLICIES.p2b) {
    const path = tmp.path('refused.img');
    const before = await tmp.files();
    const error = await writeImage(path, inputOf(g, hasher), policy).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^Cannot write image .*refused\.img: /);
    expect((error as Error).message).toMatch(message);
    expect(await tmp.files()).toEqual(before);
  }

  function withMapping(g: Guest, entries: [number, number, number][]): Guest {
    return {
      ...g,
      mapping: sortedSnapshot(
        Uint32Array.from(entries, (e) => e[0]),
        Uint32Array.from(entries, (e) => e[1]),
        Float64Array.from(entries, (e) => e[2]),
      ),
    };
  }

  it('rejects a page mapped twice', async () => {
    await refuses(
      withMapping(guest(), [
        [3, 0, 0],
        [3, 0, 64],
      ]),
      /page 3 is mapped twice/,
    );
  });

  it('rejects a pfn beyond the guest', async () => {
    await refuses(withMapping(guest(), [[32, 0, 0]]), /page 32 is beyond the guest's 32 pages/);
  });

  it('rejects a mapping beyond the end of its disk', async () => {
    await refuses(withMapping(guest(), [[1, 1, 249]]), /page 1 at sector 249 lies beyond the end of disk 1/);
  });

  it('rejects a mapping to a disk that is not in the image', async () => {
    await refuses(withMapping(guest(), [[1, 5, 0]]), /page 1 refers to disk 5/);
  });

  it('rejects a fractional or negative sector', async () => {
    await refuses(withMapping(guest(), [[1, 0, 2.5]]), /page 1 at sector 2\.5/);
    await refuses(withMapping(guest(), [[1, 0, -8]]), /page 1 at sector -8/);
  });

  it('rejects a mapping that is not sorted by (disk, sector, pfn)', async () => {
    const g = guest();
    const { pfn, disk, sector } = g.mapping;
    const reversed = {
      length: pfn.length,
      pfn: pfn.reverse(),
      disk: disk.reverse(),
      sector: sector.reverse(),
    };
    await refuses({ ...g, mapping: reversed }, /not sorted by \(disk, sector, pfn\)/);
  });

  it('rejects verification without a block store', async () => {
    const { blocks: _unused, ...g } = guest();
    await refuses(g as Guest, /no block store/);
  });

  it('rejects verifying against a block store whose disk is not the one the image records', async () => {
    const g = guest();
    const blocks = g.blocks.withDisks([{ ...g.disks[0]!, uuid: 'live' }, g.disks[1]!]);
    await refuses(
      { ...g, blocks },
      /disk 0: the image records uuid 'disk-0-snap-1' \(1024 sectors\), the block store to verify against has uuid 'live'/,
    );
  });

  it('rejects duplicate disk ids', async () => {
    const g = guest();
    await refuses({ ...g, disks: [...g.disks, g.disks[0]!] }, /disk 0 is listed twice/);
  });

  it('writes the state verbatim', async () => {
    const g = { ...guest(), state: Uint8Array.from({ length: 5000 }, (_, i) => i % 251) };
    const { restored, path } = await roundTrip(g, POLICIES.p2b, 'state.img');
    expect(restored.state).toEqual(g.state);
    const bytes = await readFile(path);
    expect(bytes.includes(Buffer.from(g.state))).toBe(true);
  });
});
