/**
 * Disk files read where they lie in the page cache: MappedDiskFiles' views and hashFile's mapped windows
 * must give exactly the bytes (and the hash) that reading the files gives.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { SECTOR_SIZE } from '../../../core/ports.ts';
import { diskFileStore, hashFile } from '../../../backends/xen/disk-files.ts';
import { MappedDiskFiles } from '../../../backends/xen/mapped-disks.ts';
import { FileBlockStore } from '../../../backends/file/file-block-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-mapped-'));
let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes that differ from sector to sector and within each, so an offset error shows. */
function content(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >> 9) * 7 + seed) & 0xff;
  return b;
}

let files = 0;
function diskFile(bytes: number, seed: number): string {
  const path = join(dir, `disk-${files++}.raw`);
  writeFileSync(path, content(bytes, seed));
  return path;
}

function mappedStore(path: string, sectors: number, window: number): MappedDiskFiles {
  const reads = new FileBlockStore([{ id: 7, sectors, uuid: 'u', file: path }]);
  return new MappedDiskFiles(reads, new Map([[7, path]]), window);
}

describe('MappedDiskFiles', () => {
  it('views hold the bytes a read gives; ranges past the end or across windows are left to reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 12 }),
        async (sectors, windowPages, ranges) => {
          const path = diskFile(sectors * SECTOR_SIZE, sectors);
          const window = windowPages * 4096;
          const store = mappedStore(path, sectors, window);
          try {
            for (const [sector, count] of ranges) {
              const view = store.viewSectors(7, sector, count);
              const start = sector * SECTOR_SIZE;
              const end = (sector + count) * SECTOR_SIZE;
              const fits =
                end <= sectors * SECTOR_SIZE && Math.floor(start / window) === Math.floor((end - 1) / window);
              expect(view !== undefined).toBe(fits);
              if (!view) continue;
              const read = new Uint8Array(count * SECTOR_SIZE);
              await store.readSectors(7, sector, count, read);
              expect(Buffer.compare(view, read)).toBe(0);
            }
          } finally {
            store.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('views nothing of an unknown disk or once closed, and reads still refuse what is not there', async () => {
    const path = diskFile(16 * SECTOR_SIZE, 3);
    const store = mappedStore(path, 16, 4096);
    expect(store.viewSectors(8, 0, 1)).toBeUndefined();
    expect(store.viewSectors(7, 0, 0)).toBeUndefined();
    expect(store.viewSectors(7, 15, 2)).toBeUndefined();
    await expect(store.readSectors(7, 15, 2, new Uint8Array(2 * SECTOR_SIZE))).rejects.toThrow(/end of file/);
    expect(store.viewSectors(7, 0, 8)).toBeDefined();
    store.close();
    expect(store.viewSectors(7, 0, 8)).toBeUndefined();
  });

  it('diskFileStore maps by default, and not with map: false', () => {
    const path = diskFile(8 * SECTOR_SIZE, 5);
    const mapped = diskFileStore([{ id: 1, path, sectors: 8 }]);
    const plain = diskFileStore([{ id: 1, path, sectors: 8 }], { map: false });
    try {
      expect(Buffer.compare(mapped.viewSectors!(1, 0, 8)!, content(8 * SECTOR_SIZE, 5))).toBe(0);
      expect(plain.viewSectors).toBeUndefined();
    } finally {
      mapped.close();
      plain.close();
    }
  });
});

describe('hashFile', () => {
  it('mapped, in windows, gives the hash of the bytes read', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40_000 }),
        fc.integer({ min: 1, max: 4 }),
        async (bytes, windowPages) => {
          const path = diskFile(bytes, bytes);
          const expected = hasher.hash64(content(bytes, bytes));
          expect(await hashFile(path, hasher, { how: 'read' })).toBe(expected);
          expect(await hashFile(path, hasher, { window: windowPages * 4096 })).toBe(expected);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a file that grew since it was written hashes as it is now', async () => {
    const path = diskFile(5000, 1);
    truncateSync(path, 12_288);
    const now = Buffer.concat([content(5000, 1), Buffer.alloc(12_288 - 5000)]);
    expect(await hashFile(path, hasher, { window: 4096 })).toBe(hasher.hash64(now));
  });
});
