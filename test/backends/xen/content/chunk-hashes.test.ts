/**
 * The disks' content hash kept current as the guest writes: a chunk hashed while a write to it was
 * landing never counts, and whenever a digest is given it is the hash of the disk as it is.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import {
  ChunkHashes,
  contentIdentity,
  type ContentHash,
} from '../../../../backends/xen/content/chunk-hashes.ts';
import { contentOf } from '../fixtures/disks.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFileChunks, hashFileContent } from '../../../../backends/xen/disk-files.ts';

let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});

/** A disk in memory; `read` copies from it, optionally doing something in the middle of the copy. */
class Disk {
  readonly bytes: Uint8Array;
  /** Runs once between the two halves of the next read's copy (a write landing mid-read). */
  during: (() => void) | undefined;
  constructor(readonly sectors: number) {
    this.bytes = new Uint8Array(sectors * 512);
    for (let i = 0; i < this.bytes.length; i++) this.bytes[i] = (i * 7 + (i >> 11)) & 0xff;
  }
  read = async (sector: number, dst: Uint8Array): Promise<void> => {
    const at = sector * 512;
    const half = dst.length >> 1;
    dst.set(this.bytes.subarray(at, at + half));
    const step = this.during;
    this.during = undefined;
    step?.();
    await Promise.resolve();
    dst.set(this.bytes.subarray(at + half, at + dst.length), half);
  };
  write(sector: number, count: number, value: number): void {
    this.bytes.fill(value, sector * 512, (sector + count) * 512);
  }
}

const same = (a: ContentHash | undefined, disk: Disk, chunkSectors: number): void => {
  expect(a && contentIdentity(a)).toBe(contentIdentity(contentOf(hasher, disk.bytes, chunkSectors)));
};

describe('chunked content hash', () => {
  it('is the hash of the whole disk once every chunk is read, the last chunk a short one', async () => {
    const disk = new Disk(5000);
    const c = new ChunkHashes(disk.sectors, 2048);
    expect(c.chunks).toBe(3);
    expect(c.digest(hasher)).toBeUndefined();
    expect(await c.refresh(disk.read, hasher)).toBe(3);
    same(c.digest(hasher), disk, 2048);
    // Nothing written: nothing to read again.
    expect(await c.refresh(disk.read, hasher)).toBe(0);
  });

  it('hashes again only the chunks a completed write touched', async () => {
    const disk = new Disk(8192);
    const c = new ChunkHashes(disk.sectors, 2048);
    await c.refresh(disk.read, hasher);
    disk.write(2040, 16, 0xaa); // straddles chunks 0 and 1
    c.written(2040, 16);
    expect(c.stale).toBe(2);
    expect(c.digest(hasher)).toBeUndefined();
    expect(await c.refresh(disk.read, hasher)).toBe(2);
    same(c.digest(hasher), disk, 2048);
  });

  it('does not count a chunk a write completed in while it was read', async () => {
    const disk = new Disk(4096);
    const c = new ChunkHashes(disk.sectors, 2048);
    // The write lands in the half of chunk 0 already copied, and completes before the copy ends.
    disk.during = () => {
      disk.write(0, 8, 0x11);
      c.written(0, 8);
    };
    expect(await c.refresh(disk.read, hasher)).toBe(1);
    expect(c.stale).toBe(1);
    expect(c.digest(hasher)).toBeUndefined();
    await c.refresh(disk.read, hasher);
    same(c.digest(hasher), disk, 2048);
  });

  it('takes seeded hashes only for chunks not written since', async () => {
    const disk = new Disk(4096);
    const given = contentOf(hasher, disk.bytes, 2048);
    const c = new ChunkHashes(disk.sectors, 2048);
    c.written(3000, 8);
    const hashes = new BigUint64Array([hasher.hash64(disk.bytes.subarray(0, 1 << 20)), 0n]);
    expect(c.seed(hashes)).toBe(1);
    expect(c.stale).toBe(1);
    expect(c.seed(new BigUint64Array(5))).toBe(0); // another disk's shape
    disk.write(3000, 8, 0x22);
    // Only the written chunk is read; the seeded one counts as given.
    expect(await c.refresh(disk.read, hasher)).toBe(1);
    same(c.digest(hasher), disk, 2048);
    expect(contentIdentity(c.digest(hasher)!)).not.toBe(contentIdentity(given));
  });

  it('hashes a disk file the same way, over pieces of many chunks and a short last chunk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'leanckpt-chunks-'));
    try {
      const disk = new Disk(2048 * 19 + 3); // read in 8 MiB pieces: 8 + 8 + 3 chunks, the last 3 sectors
      const path = join(dir, 'disk.raw');
      await writeFile(path, disk.bytes);
      const file = await hashFileChunks(path, hasher, 2048);
      expect(file.chunks.length).toBe(20);
      expect(file.chunks[19]).toBe(hasher.hash64(disk.bytes.subarray(19 << 20)));
      same(file, disk, 2048);
      const c = new ChunkHashes(disk.sectors, 2048);
      await c.refresh(disk.read, hasher);
      expect(contentIdentity(c.digest(hasher)!)).toBe(contentIdentity(file));
      same(await hashFileContent(path, hasher, 0), disk, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never gives a digest that differs from the disk, whatever the interleaving (model)', async () => {
    const write = fc.record({
      sector: fc.integer({ min: 0, max: 6143 }),
      count: fc.integer({ min: 1, max: 64 }),
      value: fc.integer({ min: 0, max: 255 }),
      midRead: fc.boolean(),
      completes: fc.boolean(),
    });
    const step = fc.oneof(write, fc.constant('refresh' as const));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const disk = new Disk(6144);
        const c = new ChunkHashes(disk.sectors, 2048);
        // Writes whose data landed but whose completion has not been seen yet.
        const landed: { sector: number; count: number }[] = [];
        for (const s of steps) {
          if (s === 'refresh') {
            await c.refresh(disk.read, hasher);
          } else {
            const apply = (): void => {
              disk.write(s.sector, Math.min(s.count, 6144 - s.sector), s.value);
              if (s.completes) c.written(s.sector, s.count);
              else landed.push(s);
            };
            if (s.midRead) {
              // Lands while a refresh is reading (or, with nothing left to read, after it).
              disk.during = apply;
              await c.refresh(disk.read, hasher);
              disk.during?.();
            } else {
              apply();
            }
            // A write whose completion was held back completes at some later step.
            if (landed.length > 0 && s.completes) {
              const w = landed.shift()!;
              c.written(w.sector, w.count);
            }
          }
          disk.during = undefined;
          // The invariant: a digest, whenever given, is the disk's, unless a landed write's completion
          // is still to come (the backend has not answered it: no checkpoint is taken then).
          const d = c.digest(hasher);
          if (d && landed.length === 0) same(d, disk, 2048);
        }
        for (const w of landed) c.written(w.sector, w.count);
        await c.refresh(disk.read, hasher);
        same(c.digest(hasher), disk, 2048);
      }),
      { numRuns: 150 },
    );
  });
});
