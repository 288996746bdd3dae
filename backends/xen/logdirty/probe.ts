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
   * Hashes the 8 sectors at each (disk, sector) now, reading neighbouring ranges together (sorted,
   * coalesced, up to 1 MiB a read); the next hashSectors of each uses that hash (once), until forget().
   * For adopting thousands of mappings at once: a read per page cost an emulated dom0 20 s.
   */
  prefetchSectors(entries: {
    readonly length: number;
    readonly disk: Uint32Array;
    readonly sector: Float64Array;
  }): void;
  /**
   * Drops every prefetched hash not used. A leftover one (its page was no longer mapped when its dirty
   * report was applied) is of the page's content at that epoch's end: handed to a later hashPage it
   * would hide a write made since, so each hashPage after this reads the page afresh.
   */
  forget(): void;
}

const SECTORS_PER_PAGE = 8;
const SECTOR_BYTES = 512;
/** Sectors per coalesced read of prefetchSectors (1 MiB). */
const RUN_SECTORS = 2048;

export function contentProbe(d: ProbeDeps): PrefetchingProbe {
  const page = new Uint8Array(4096);
  const ready = new Map<number, bigint>();
  /** Prefetched sector hashes by disk, then first sector. */
  const sectorsReady = new Map<number, Map<number, bigint>>();
  const runBuf = new Uint8Array(RUN_SECTORS * SECTOR_BYTES);
  return {
    prefetch(pfns, readPages) {
      ready.clear();
      readPages(pfns, (pfn, bytes) => ready.set(pfn, d.hash(bytes)));
    },
    prefetchSectors(e) {
      sectorsReady.clear();
      const order = Array.from({ length: e.length }, (_, i) => i).sort(
        (a, b) => e.disk[a]! - e.disk[b]! || e.sector[a]! - e.sector[b]!,
      );
      for (let k = 0; k < order.length;) {
        // A run: entries on one disk whose ranges touch or overlap, within RUN_SECTORS of its start.
        const disk = e.disk[order[k]!]!;
        const start = e.sector[order[k]!]!;
        let end = start + SECTORS_PER_PAGE;
        let j = k + 1;
        for (; j < order.length; j++) {
          const s = e.sector[order[j]!]!;
          if (e.disk[order[j]!] !== disk || s > end || s + SECTORS_PER_PAGE - start > RUN_SECTORS) break;
          end = Math.max(end, s + SECTORS_PER_PAGE);
        }
        const store = d.disks.get(disk);
        if (store) {
          const bytes = runBuf.subarray(0, (end - start) * SECTOR_BYTES);
          store.readSync(start, bytes);
          let byDisk = sectorsReady.get(disk);
          if (!byDisk) sectorsReady.set(disk, (byDisk = new Map()));
          for (let i = k; i < j; i++) {
            const at = (e.sector[order[i]!]! - start) * SECTOR_BYTES;
            byDisk.set(e.sector[order[i]!]!, d.hash(bytes.subarray(at, at + 4096)));
          }
        }
        k = j;
      }
    },
    forget() {
      ready.clear();
      sectorsReady.clear();
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
      const byDisk = sectorsReady.get(disk);
      const h = byDisk?.get(sector);
      if (h !== undefined) {
        byDisk!.delete(sector);
        return h;
      }
      const store = d.disks.get(disk);
      if (!store) throw new Error(`no disk ${disk}`);
      store.readSync(sector, page);
      return d.hash(page);
    },
  };
}
