/**
 * Sector keys for real bytes, so the oracle runs on any backend's ports (the in-memory one, Xen's):
 * 0 for an all-zero sector, else 1 + the low 52 bits of the sector's XXH64. A hash can collide, so
 * every candidate match is confirmed by comparing the bytes.
 */
import type { Hasher64 } from '../hash.ts';
import { PAGE_SIZE, SECTOR_SIZE, SECTORS_PER_PAGE, type BlockStore, type GuestMemory } from '../ports.ts';
import { matchPagesToDisks, type DiskKeys, type OracleResult } from './matcher.ts';

const LOW52 = (1n << 52n) - 1n;
const READ_SECTORS = 2048;

function sectorKey(bytes: Uint8Array, hasher: Hasher64): number {
  let zero = true;
  for (let i = 0; i < bytes.length && zero; i++) zero = bytes[i] === 0;
  return zero ? 0 : 1 + Number(hasher.hash64(bytes) & LOW52);
}

/** Keys of every sector of guest memory. */
export function memoryKeys(memory: GuestMemory, hasher: Hasher64): Float64Array {
  const keys = new Float64Array(memory.pageCount * SECTORS_PER_PAGE);
  const page = new Uint8Array(PAGE_SIZE);
  for (let p = 0; p < memory.pageCount; p++) {
    memory.readPage(p, page);
    for (let j = 0; j < SECTORS_PER_PAGE; j++)
      keys[p * SECTORS_PER_PAGE + j] = sectorKey(
        page.subarray(j * SECTOR_SIZE, (j + 1) * SECTOR_SIZE),
        hasher,
      );
  }
  return keys;
}

/** Each disk of a block store, its keys computed as they are read. */
export function blockStoreKeys(blocks: BlockStore, hasher: Hasher64): DiskKeys[] {
  const bytes = new Uint8Array(READ_SECTORS * SECTOR_SIZE);
  return blocks.disks.map((d) => ({
    id: d.id,
    sectors: d.sectors,
    async read(sector: number, count: number, dst: Float64Array) {
      for (let done = 0; done < count; done += READ_SECTORS) {
        const n = Math.min(READ_SECTORS, count - done);
        await blocks.readSectors(d.id, sector + done, n, bytes);
        for (let i = 0; i < n; i++)
          dst[done + i] = sectorKey(bytes.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE), hasher);
      }
    },
  }));
}

/** The oracle over real bytes: memory and disks as the ports give them. */
export async function matchBytes(
  memory: GuestMemory,
  blocks: BlockStore,
  hasher: Hasher64,
): Promise<OracleResult> {
  const page = new Uint8Array(PAGE_SIZE);
  const disk = new Uint8Array(PAGE_SIZE);
  return matchPagesToDisks({
    pageKeys: memoryKeys(memory, hasher),
    disks: blockStoreKeys(blocks, hasher),
    async confirm(pfn, id, sector) {
      memory.readPage(pfn, page);
      await blocks.readSectors(id, sector, SECTORS_PER_PAGE, disk);
      return Buffer.compare(page, disk) === 0;
    },
  });
}
