import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError, RestoreError } from '../../../core/errors.ts';
import { MemoryBlockStore } from '../../../backends/memory/world.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { PAGE_SIZE } from '../../../core/ports.ts';
import { ArrayMemory, inputOf, makeGuest, targetOf, tempDir, type Guest } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

function guest(): Guest {
  return makeGuest({
    pages: 12,
    diskSectors: [8192, 512],
    mapped: [
      { pfn: 5, disk: 0, sector: 4096 },
      { pfn: 6, disk: 0, sector: 4104 },
      { pfn: 2, disk: 1, sector: 40 },
    ],
  });
}

async function written(g: Guest, name: string): Promise<string> {
  const path = tmp.path(name);
  await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
  return path;
}

async function failure(promise: Promise<unknown>): Promise<RestoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RestoreError);
  return error as RestoreError;
}

describe('restore refuses what it cannot prove', () => {
  it('refuses when the disk changed after the checkpoint, naming the page and sector', async () => {
    const g = guest();
    const path = await written(g, 'changed.img');
    g.blocks.sectors(0, 4104 + 3, 1)[17]! ^= 0x40;
    const target = targetOf(g, hasher);
    const error = await failure(restoreImage(path, target));
    expect(error.message).toMatch(
      /^page 6 \(disk 0, sector 4104\): content hash mismatch, the disk changed since the checkpoint \(expected 0x[0-9a-f]{16}, got 0x[0-9a-f]{16}\)$/,
    );
    expect(error).toMatchObject({ pfn: 6, disk: 0, sector: 4104 });
    // The page that failed its hash never reached memory.
    expect(target.memory.page(6).every((b) => b === 0xaa)).toBe(true);
  });

  it('refuses a disk with another uuid, naming the disk, before touching memory', async () => {
    const g = guest();
    const path = await written(g, 'uuid.img');
    const blocks = g.blocks.withDisks([g.disks[0]!, { ...g.disks[1]!, uuid: 'some-later-snapshot' }]);
    const target = targetOf(g, hasher, blocks);
    const error = await failure(restoreImage(path, target));
    expect(error.message).toBe(
      "disk 1: the image was written against uuid 'disk-1-snap-1' (512 sectors), the block store has uuid 'some-later-snapshot' (512 sectors)",
    );
    expect(error.disk).toBe(1);
    expect(target.memory.bytes.every((b) => b === 0xaa)).toBe(true);
  });

  it('refuses a disk of another size', async () => {
    const g = guest();
    const path = await written(g, 'size.img');
    const blocks = g.blocks.withDisks([{ ...g.disks[0]!, sectors: 8200 }, g.disks[1]!]);
    const error = await failure(restoreImage(path, targetOf(g, hasher, blocks)));
    expect(error.message).toMatch(/^disk 0: .*\(8192 sectors\), the block store has .*\(8200 sectors\)$/);
  });

  it('refuses when a disk of the image is missing', async () => {
    const g = guest();
    const path = await written(g, 'missing.img');
    const error = await failure(restoreImage(path, targetOf(g, hasher, g.blocks.withDisks([g.disks[0]!]))));
    expect(error.message).toMatch(/^disk 1: .*the block store has no such disk$/);
  });

  it('checks disk identity for baseline images too: the guest page cache assumed those disks', async () => {
    const g = guest();
    const path = tmp.path('baseline-identity.img');
    await writeImage(path, inputOf(g, hasher), POLICIES.baseline);
    const blocks = g.blocks.withDisks([{ ...g.disks[0]!, uuid: 'other' }, g.disks[1]!]);
    await failure(restoreImage(path, targetOf(g, hasher, blocks)));
  });

  it('accepts extra disks in the block store', async () => {
    const g = guest();
    const path = await written(g, 'extra.img');
    const blocks = g.blocks.withDisks([...g.disks, { id: 9, sectors: 8, uuid: 'spare' }]);
    const target = targetOf(g, hasher, blocks);
    await restoreImage(path, target);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  });

  it('refuses target memory of another size', async () => {
    const g = guest();
    const path = await written(g, 'geometry.img');
    const target = { ...targetOf(g, hasher), memory: new ArrayMemory(13) };
    const error = await failure(restoreImage(path, target));
    expect(error.message).toBe('the image holds 12 pages, the target memory has 13');
  });

  it('refuses when a disk cannot be read, with the block store error, once no read is in flight', async () => {
    const g = guest();
    const path = await written(g, 'unreadable.img');
    let inFlight = 0;
    const blocks = {
      disks: g.disks,
      async readSectors(disk: number, sector: number, count: number, dst: Uint8Array) {
        inFlight++;
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (disk === 1) throw new Error(`disk 1: cannot read at sector ${sector}: EIO`);
        await g.blocks.readSectors(disk, sector, count, dst);
      },
    };
    const restoring = restoreImage(path, targetOf(g, hasher, blocks));
    await expect(restoring).rejects.toThrow('disk 1: cannot read at sector 40: EIO');
    expect(inFlight).toBe(0);
  });

  it('reads mapped pages from the disks while it goes on reading the image', async () => {
    const g = guest();
    const path = await written(g, 'overlap.img');
    const slow = {
      disks: g.disks,
      async readSectors(disk: number, sector: number, count: number, dst: Uint8Array) {
        await new Promise((r) => setTimeout(r, 50));
        await g.blocks.readSectors(disk, sector, count, dst);
      },
    };
    const target = targetOf(g, hasher, slow);
    const order: number[] = [];
    const write = target.memory.writePage.bind(target.memory);
    target.memory.writePage = (pfn, src) => {
      order.push(pfn);
      write(pfn, src);
    };
    await restoreImage(path, target);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
    // MAP comes first in the file, yet the data pages arrive while the disk reads are still out.
    expect(order.slice(-3).sort()).toEqual([2, 5, 6]);
  });

  it('reports what it read', async () => {
    const g = guest();
    const path = await written(g, 'stats.img');
    const stats = await restoreImage(path, targetOf(g, hasher));
    expect(stats).toMatchObject({ pagesMapped: 3, pagesZero: 0, pagesData: 9, diskReads: 2 });
    expect(stats.bytesReadDisk).toBe(3 * PAGE_SIZE);
    expect(stats.seconds).toBeGreaterThanOrEqual(0);
  });
});

describe('a missing image file', () => {
  it('is refused with an ImageFormatError naming the file', async () => {
    const target = { memory: new ArrayMemory(1), blocks: new MemoryBlockStore([], new Map()), hasher };
    const p = restoreImage('/nonexistent/leanckpt.lckpt', target);
    await expect(p).rejects.toThrow(ImageFormatError);
    await expect(p).rejects.toThrow(/Cannot open image \/nonexistent\/leanckpt.lckpt/);
  });
});
