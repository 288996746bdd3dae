/**
 * The content probe behind hash revalidation: a page's hash from guest memory (mapped read-only on
 * demand), a mapping's claimed hash from the disk's current sectors. A page that cannot be read gets a
 * hash that cannot match, so its mapping dies: unreadable never means unchanged.
 */
import type { ContentProbe } from '../../../core/ports.ts';
import type { DiskStore } from '../blkif/ports.ts';

export interface ProbeDeps {
  readonly hash: (bytes: Uint8Array) => bigint;
  /** Copies page `pfn` into `dst`; false if it cannot be read. */
  readonly readPage: (pfn: number, dst: Uint8Array) => boolean;
  readonly disks: ReadonlyMap<number, DiskStore>;
  /** The hash the map holds for `pfn` (to make an unreadable page differ from it). */
  readonly claimed: (pfn: number) => bigint;
}

export interface PrefetchingProbe extends ContentProbe {
  /**
   * Hashes these pages now, in batches; the next hashPage of each uses that hash (once). A prefetched
   * hash stands for the page's content only up to the events the caller applies next (the epoch it was
   * taken for): call forget() once they are applied.
   */
  prefetch(
    pfns: Uint32Array,
    readPages: (pfns: Uint32Array, each: (pfn: number, page: Uint8Array) => void) => void,
  ): void;
  /**
   * Drops every prefetched hash not used. A leftover one (its page was no longer mapped when its dirty
   * report was applied) is of the page's content at that epoch's end: handed to a later hashPage it
   * would hide a write made since, so each hashPage after this reads the page afresh.
   */
  forget(): void;
}

export function contentProbe(d: ProbeDeps): PrefetchingProbe {
  const page = new Uint8Array(4096);
  const ready = new Map<number, bigint>();
  return {
    prefetch(pfns, readPages) {
      ready.clear();
      readPages(pfns, (pfn, bytes) => ready.set(pfn, d.hash(bytes)));
    },
    forget() {
      ready.clear();
    },
    hashPage(pfn) {
      const h = ready.get(pfn);
      if (h !== undefined) {
        ready.delete(pfn);
        return h;
      }
      return d.readPage(pfn, page) ? d.hash(page) : d.claimed(pfn) ^ 1n;
    },
    hashSectors(disk, sector) {
      const store = d.disks.get(disk);
      if (!store) throw new Error(`no disk ${disk}`);
      store.readSync(sector, page);
      return d.hash(page);
    },
  };
}
