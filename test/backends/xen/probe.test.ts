/** The content probe behind revalidation: prefetched hashes are used once, and never past forget(). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadHasher } from '../../../core/hash.ts';
import { contentProbe } from '../../../backends/xen/logdirty/probe.ts';
import { MemoryDisk } from './support/memory-disk.ts';

describe('content probe', () => {
  it('hands a prefetched hash out once, and after forget() reads the page afresh', async () => {
    const { hash64 } = await loadHasher();
    const pages = [new Uint8Array(4096).fill(1), new Uint8Array(4096).fill(2)];
    let reads = 0;
    const probe = contentProbe({
      hash: hash64,
      readPage: (pfn, dst) => {
        reads++;
        dst.set(pages[pfn]!);
        return true;
      },
      disks: new Map([[1, new MemoryDisk(64)]]),
      claimed: () => 0n,
    });
    const batch = (pfns: Uint32Array, each: (pfn: number, page: Uint8Array) => void) => {
      for (const pfn of pfns) each(pfn, pages[pfn]!);
    };
    const before = [hash64(pages[0]!), hash64(pages[1]!)];
    probe.prefetch(Uint32Array.of(0, 1), batch);
    pages[0]!.fill(3);
    pages[1]!.fill(4);
    expect(probe.hashPage(0)).toBe(before[0]); // the epoch's hash, as prefetched
    expect(probe.hashPage(0)).toBe(hash64(pages[0]!)); // used once
    probe.forget();
    expect(probe.hashPage(1)).toBe(hash64(pages[1]!)); // the leftover is gone: not the stale hash
    expect(reads).toBe(2);
  });

  it('prefetches sector hashes with coalesced reads, each handed out once, none past forget()', async () => {
    const { hash64 } = await loadHasher();
    const content = [1, 2].map((id) =>
      Uint8Array.from({ length: 4000 * 512 }, (_, i) => (i * 7 + id * 13) >> 3),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.constantFrom(1, 2), fc.nat(4000 - 8)), {
          selector: ([d, s]) => `${d}:${s}`,
          maxLength: 120,
        }),
        async (entries) => {
          const disks = new Map([1, 2].map((id) => [id, new MemoryDisk(4000)] as const));
          for (const [id, disk] of disks) disk.bytes.set(content[id - 1]!);
          let reads = 0;
          for (const disk of disks.values()) {
            const read = disk.readSync.bind(disk);
            disk.readSync = (sector, dst) => {
              reads++;
              read(sector, dst);
            };
          }
          const probe = contentProbe({ hash: hash64, readPage: () => false, disks, claimed: () => 0n });
          const expected = (d: number, s: number): bigint =>
            hash64(disks.get(d)!.bytes.subarray(s * 512, s * 512 + 4096));
          probe.prefetchSectors({
            length: entries.length,
            disk: Uint32Array.from(entries, ([d]) => d),
            sector: Float64Array.from(entries, ([, s]) => s),
          });
          // Fewer reads than entries whenever ranges touch (at most one per entry).
          expect(reads).toBeLessThanOrEqual(entries.length);
          const prefetchReads = reads;
          for (const [d, s] of entries) expect(probe.hashSectors(d, s)).toBe(expected(d, s));
          expect(reads).toBe(prefetchReads); // all from the prefetch
          if (entries.length > 0) {
            const [d, s] = entries[0]!;
            disks.get(d)!.bytes.fill(0xab, s * 512, s * 512 + 4096);
            expect(probe.hashSectors(d, s)).toBe(expected(d, s)); // used once: read afresh
            probe.prefetchSectors({ length: 1, disk: Uint32Array.of(d), sector: Float64Array.of(s) });
            probe.forget();
            disks.get(d)!.bytes.fill(0xcd, s * 512, s * 512 + 4096);
            expect(probe.hashSectors(d, s)).toBe(expected(d, s)); // forgotten: not the stale hash
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives an unreadable page a hash unlike its claim', async () => {
    const { hash64 } = await loadHasher();
    const probe = contentProbe({
      hash: hash64,
      readPage: () => false,
      disks: new Map(),
      claimed: () => 77n,
    });
    expect(probe.hashPage(5)).not.toBe(77n);
  });
});
