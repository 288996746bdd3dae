/** The oracle finds exactly the pages equal to some 4 KiB disk range, at any 512 B offset. */
import { describe, expect, it } from 'vitest';
import { loadHasher } from '../../core/hash.ts';
import {
  matchBytes,
  matchPagesToDisks,
  PAGE_MATCHED,
  PAGE_OTHER,
  PAGE_ZERO,
} from '../../core/oracle/index.ts';
import type { BlockStore, GuestMemory } from '../../core/ports.ts';
import { Prng } from '../../sim/prng.ts';

const PAGE = 4096;
const SECTOR = 512;

class BytesMemory implements GuestMemory {
  constructor(readonly bytes: Uint8Array) {}
  get pageCount(): number {
    return this.bytes.length / PAGE;
  }
  readPage(pfn: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(pfn * PAGE, (pfn + 1) * PAGE));
  }
  writePage(pfn: number, src: Uint8Array): void {
    this.bytes.set(src.subarray(0, PAGE), pfn * PAGE);
  }
}

function bytesDisks(disks: Map<number, Uint8Array>): BlockStore {
  return {
    disks: [...disks].map(([id, b]) => ({ id, sectors: b.length / SECTOR, uuid: `disk-${id}` })),
    async readSectors(id, sector, count, dst) {
      dst.set(disks.get(id)!.subarray(sector * SECTOR, (sector + count) * SECTOR));
    },
  };
}

function randomBytes(rng: Prng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** Every 8-sector window of every disk, compared byte for byte with every page. */
function bruteForce(memory: Uint8Array, disks: Map<number, Uint8Array>): Uint8Array {
  const pages = memory.length / PAGE;
  const kind = new Uint8Array(pages);
  for (let p = 0; p < pages; p++) {
    const page = memory.subarray(p * PAGE, (p + 1) * PAGE);
    if (page.every((x) => x === 0)) {
      kind[p] = PAGE_ZERO;
      continue;
    }
    for (const d of disks.values()) {
      for (let s = 0; s + 8 <= d.length / SECTOR && kind[p] !== PAGE_MATCHED; s++) {
        if (Buffer.compare(page, d.subarray(s * SECTOR, s * SECTOR + PAGE)) === 0) kind[p] = PAGE_MATCHED;
      }
    }
  }
  return kind;
}

describe('matchBytes (real bytes)', () => {
  it('agrees with a brute-force search: unaligned ranges, zero sectors, repeats, two disks', async () => {
    const rng = new Prng(7);
    const disks = new Map([
      [3, randomBytes(rng, 300 * SECTOR)],
      [9, randomBytes(rng, 160 * SECTOR)],
    ]);
    // Zero sectors on disk 3, so a page may start with zero sectors and still match.
    disks.get(3)!.fill(0, 40 * SECTOR, 43 * SECTOR);
    const pages = 48;
    const memory = randomBytes(rng, pages * PAGE);
    const copy = (pfn: number, id: number, sector: number) =>
      memory.set(disks.get(id)!.subarray(sector * SECTOR, sector * SECTOR + PAGE), pfn * PAGE);
    copy(0, 3, 0);
    copy(1, 3, 37); // three zero sectors inside, not first
    copy(2, 3, 40); // begins with three zero sectors
    copy(3, 9, 152); // the last full window of disk 9
    copy(4, 9, 5);
    copy(5, 9, 5); // the same content twice in memory
    memory.fill(0, 6 * PAGE, 9 * PAGE); // three zero pages: one extent
    memory.fill(0, 10 * PAGE, 10 * PAGE + 7 * SECTOR); // all zero but the last sector
    copy(11, 3, 101);
    memory[11 * PAGE + 4095] = memory[11 * PAGE + 4095]! ^ 1; // one byte off a disk range: no match
    const expected = bruteForce(memory, disks);
    const hasher = await loadHasher();
    const r = await matchBytes(new BytesMemory(memory), bytesDisks(disks), hasher);
    expect([...r.kind]).toEqual([...expected]);
    expect(r.zeroPages).toBe(3);
    expect(r.zeroExtents).toBe(1);
    expect(r.matchedPages).toBe(6);
    expect([r.disk[2], r.sector[2]]).toEqual([3, 40]);
    expect([r.disk[3], r.sector[3]]).toEqual([9, 152]);
    expect(r.kind[11]).toBe(PAGE_OTHER);
  });
});

describe('matchPagesToDisks (keys)', () => {
  it('finds matches that straddle the scan windows of a large disk', async () => {
    const sectors = 3 * 65536 + 100;
    const diskKey = (s: number) => 1_000_000 + s;
    const starts = [0, 65530, 65533, 65536, 131065, sectors - 8];
    const keys = new Float64Array((starts.length + 1) * 8);
    starts.forEach((s, p) => {
      for (let j = 0; j < 8; j++) keys[p * 8 + j] = diskKey(s + j);
    });
    for (let j = 0; j < 8; j++) keys[starts.length * 8 + j] = diskKey(sectors - 7 + j); // runs past the end
    const r = await matchPagesToDisks({
      pageKeys: keys,
      disks: [
        {
          id: 1,
          sectors,
          read(sector, count, dst) {
            for (let i = 0; i < count; i++) dst[i] = diskKey(sector + i);
          },
        },
      ],
    });
    expect([...r.sector]).toEqual([...starts, -1]);
    expect(r.matchedPages).toBe(starts.length);
  });

  it('a candidate the confirm callback rejects is not a match', async () => {
    const keys = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const disk = {
      id: 0,
      sectors: 8,
      read: (_s: number, n: number, dst: Float64Array) => dst.set(keys.subarray(0, n)),
    };
    expect((await matchPagesToDisks({ pageKeys: keys, disks: [disk] })).matchedPages).toBe(1);
    expect(
      (await matchPagesToDisks({ pageKeys: keys, disks: [disk], confirm: () => false })).matchedPages,
    ).toBe(0);
  });
});
