/** The content probe behind revalidation: prefetched hashes are used once, and never past forget(). */
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
