/**
 * The direct fill of a restore (docs/xen.md, "Direct fill"): once `xl restore -p` has built the domain
 * from a sparse stream (image/sparse.ts), the pages that stream left to us are written straight into the
 * paused domain's memory: zero pages zeroed, disk pages read from the disks into place, each then hashed
 * where it now lies in guest memory and compared with the hash the image recorded. A page that does not
 * match is refused, naming page and sector; the caller destroys the domain, which never ran.
 */
import { RestoreError } from '../../core/errors.ts';
import type { Hasher64 } from '../../core/hash.ts';
import { PAGE_SIZE, SECTORS_PER_PAGE, type BlockStore } from '../../core/ports.ts';
import { mismatch } from './image/rebuild.ts';
import type { FillPlan } from './image/sparse.ts';

/** Pages of a domain mapped one after another into one view. */
export interface MappedPages {
  readonly bytes: Uint8Array;
  unmap(): void;
}

/** Writable access to a paused domain's pages, by pfn: the one thing the fill needs from Xen. */
export interface GuestMemory {
  /** Maps `pfns` writable, in that order; throws if any cannot be mapped. */
  map(pfns: Uint32Array): MappedPages;
  close(): void;
}

export interface FillResult {
  readonly zeroPages: number;
  readonly pagesFromDisk: number;
  readonly diskReads: number;
  /** Where the time went: mapping and zeroing, mapping and reading, hashing in guest memory. */
  readonly ms: { readonly zero: number; readonly read: number; readonly check: number };
}

/** Pages mapped at once: 4 MiB, as many as one PAGE_DATA record of `xl save` carries. */
export const FILL_BATCH = 1024;

/** Runs `f` on the mapping of `pfns`, unmapping it afterwards whatever happens. */
async function withMapped<T>(
  memory: GuestMemory,
  pfns: Uint32Array,
  f: (bytes: Uint8Array) => Promise<T> | T,
): Promise<T> {
  let m: MappedPages;
  try {
    m = memory.map(pfns);
  } catch (e) {
    // The domain xl built lacks a page the image needs: no restore can go on from there.
    throw new RestoreError(
      `cannot write the left-out pages into the restored domain (pages from pfn ${pfns[0]}): ${(e as Error).message}`,
      pfns[0],
    );
  }
  try {
    return await f(m.bytes);
  } finally {
    m.unmap();
  }
}

/** Indices of the plan's disk pages in (disk, sector) order: runs that lie together on a disk read together. */
function diskOrder(plan: FillPlan): Uint32Array {
  const { disk, sector, length } = plan.mapped;
  const order = Array.from({ length }, (_, i) => i).sort(
    (a, b) => disk[a]! - disk[b]! || sector[a]! - sector[b]!,
  );
  return Uint32Array.from(order);
}

/**
 * Reads the pages `idx` (plan indices, in disk order) into `bytes`, page j at j * 4096: one read per run
 * of pages that follow each other on a disk. Every read has settled when this returns, failed or not
 * (the caller unmaps `bytes` afterwards, which a read still under way would write into).
 */
async function readRuns(
  plan: FillPlan,
  idx: Uint32Array,
  bytes: Uint8Array,
  blocks: BlockStore,
): Promise<number> {
  const { disk, sector } = plan.mapped;
  const reads: Promise<void>[] = [];
  for (let j = 0; j < idx.length;) {
    let k = j + 1;
    while (
      k < idx.length &&
      disk[idx[k]!] === disk[idx[j]!] &&
      sector[idx[k]!] === sector[idx[k - 1]!]! + SECTORS_PER_PAGE
    ) {
      k++;
    }
    const view = bytes.subarray(j * PAGE_SIZE, k * PAGE_SIZE);
    reads.push(blocks.readSectors(disk[idx[j]!]!, sector[idx[j]!]!, (k - j) * SECTORS_PER_PAGE, view));
    j = k;
  }
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return reads.length;
}

/** Writes every page of `plan` into the domain behind `memory` and proves each disk page by its hash. */
export async function fillGuestMemory(
  plan: FillPlan,
  memory: GuestMemory,
  blocks: BlockStore,
  hasher: Hasher64,
): Promise<FillResult> {
  const ms = { zero: 0, read: 0, check: 0 };
  let t = performance.now();
  const lap = (phase: keyof typeof ms): void => {
    const now = performance.now();
    ms[phase] += now - t;
    t = now;
  };
  for (let at = 0; at < plan.zero.length; at += FILL_BATCH) {
    await withMapped(memory, plan.zero.subarray(at, at + FILL_BATCH), (bytes) => void bytes.fill(0));
  }
  lap('zero');
  const { pfn, disk, sector, hash } = plan.mapped;
  const order = diskOrder(plan);
  let diskReads = 0;
  for (let at = 0; at < order.length; at += FILL_BATCH) {
    const idx = order.subarray(at, at + FILL_BATCH);
    const pfns = Uint32Array.from(idx, (i) => pfn[i]!);
    await withMapped(memory, pfns, async (bytes) => {
      diskReads += await readRuns(plan, idx, bytes, blocks);
      lap('read');
      for (let j = 0; j < idx.length; j++) {
        const i = idx[j]!;
        const actual = hasher.hash64(bytes.subarray(j * PAGE_SIZE, (j + 1) * PAGE_SIZE));
        if (actual !== hash[i]) throw mismatch(pfn[i]!, disk[i]!, sector[i]!, hash[i]!, actual);
      }
      lap('check');
    });
  }
  return { zeroPages: plan.zero.length, pagesFromDisk: order.length, diskReads, ms };
}
