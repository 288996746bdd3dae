/**
 * The save-side filter: turns a parsed `xl save` stream into a Xen image. A page is left out only if
 *  - all its 4096 bytes are zero, or
 *  - it is an ordinary page (type NOTAB: PV page tables are rewritten by the saver, so they never equal
 *    disk content), the page-to-block map names 8 sectors for it, and those sectors, read now from the
 *    frozen disk, hold exactly the page's bytes (compared byte for byte).
 * So a missed invalidation costs space, never correctness. Every other byte is kept verbatim.
 */
import { updateInBackground, type Hasher64 } from '../../../core/hash.ts';
import { SectorRuns } from '../../../core/image/sector-runs.ts';
import type { BlockStore } from '../../../core/ports.ts';
import { PageType, PAGE_SIZE } from '../stream/format.ts';
import type { PageBatch, SaveStreamParser } from '../stream/parser.ts';
import type { PageMapView } from '../tracked-domain.ts';
import type { XenImageWriter } from './writer.ts';

export interface FilterStats {
  streamBytes: number;
  streamHash: bigint;
  /** Pages with data in the stream. */
  pageSlots: number;
  pagesMapped: number;
  pagesZero: number;
  pagesKept: number;
  /** Pages the map named whose sectors no longer hold their bytes: kept, at the cost of space. */
  pagesDemoted: number;
  /** Mapped pages not eligible because of their type (page tables). */
  pagesNotOrdinary: number;
  diskReads: number;
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
const SLOT_KEPT = 0;
const SLOT_ZERO = 1;
const SLOT_MAPPED = 2;

export async function filterStream(
  parser: SaveStreamParser,
  map: PageMapView,
  blocks: BlockStore,
  writer: XenImageWriter,
  hasher: Hasher64,
): Promise<FilterStats> {
  const stats: FilterStats = {
    streamBytes: 0,
    streamHash: 0n,
    pageSlots: 0,
    pagesMapped: 0,
    pagesZero: 0,
    pagesKept: 0,
    pagesDemoted: 0,
    pagesNotOrdinary: 0,
    diskReads: 0,
  };
  const sectorsOf = new Map(blocks.disks.map((d) => [d.id, d.sectors]));
  const whole = hasher.streaming();
  // Per batch (at most one PAGE_DATA record): what each slot becomes, and where a mapped one lives.
  let kind = new Uint8Array(1024);
  let disk = new Uint32Array(1024);
  let sector = new Float64Array(1024);
  let hash = new BigUint64Array(1024);
  let order = new Uint32Array(1024);
  let batch: PageBatch | undefined;
  // The disk's bytes are compared with the page's, not hashed: the page's hash (in the MAP entry) is
  // then the disk's too, and the save hashes 116 MB less for a 256 MiB guest.
  const runs = new SectorRuns(blocks, null, (slot, _d, _s, _expected, _actual, page) => {
    const mine = batch!.data.subarray(slot * PAGE_SIZE, (slot + 1) * PAGE_SIZE);
    if (Buffer.compare(page, mine) === 0) kind[slot] = SLOT_MAPPED;
    else stats.pagesDemoted++;
  });

  for await (const event of parser.events()) {
    if (event.kind === 'bytes') {
      whole.update(event.bytes);
      stats.streamBytes += event.bytes.length;
      await writer.keep(event.bytes);
      continue;
    }
    batch = event.batch;
    const n = batch.count;
    // The batch's pages are hashed into the whole-stream hash while this thread sorts them out (off
    // the main thread where the hasher can); done before the next event, which may reuse their buffer.
    const hashed = updateInBackground(whole, batch.data);
    hashed.catch(() => undefined); // awaited below; not unhandled if this batch fails first
    stats.streamBytes += batch.data.length;
    stats.pageSlots += n;
    if (kind.length < n) {
      kind = new Uint8Array(n);
      disk = new Uint32Array(n);
      sector = new Float64Array(n);
      hash = new BigUint64Array(n);
      order = new Uint32Array(n);
    }
    let candidates = 0;
    for (let i = 0; i < n; i++) {
      const page = batch.data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      kind[i] = SLOT_KEPT;
      if (Buffer.compare(page, ZERO_PAGE) === 0) {
        kind[i] = SLOT_ZERO;
        continue;
      }
      const pfn = batch.pfns[i]!;
      const where = pfn < 2 ** 32 ? map.get(pfn) : undefined;
      if (where === undefined) continue;
      const size = sectorsOf.get(where.disk);
      if (batch.types[i] !== PageType.NOTAB) {
        stats.pagesNotOrdinary++;
        continue;
      }
      if (size === undefined || where.sector + 8 > size) {
        stats.pagesDemoted++;
        continue;
      }
      disk[i] = where.disk;
      sector[i] = where.sector;
      hash[i] = hasher.hash64(page);
      order[candidates++] = i;
    }
    if (candidates > 0) {
      // Read the disk in (disk, sector) order so neighbouring pages share one read.
      const sorted = Array.from(order.subarray(0, candidates)).sort(
        (a, b) => disk[a]! - disk[b]! || sector[a]! - sector[b]!,
      );
      for (const i of sorted) {
        if (!runs.fits(disk[i]!, sector[i]!)) await runs.submit();
        runs.add(i, disk[i]!, sector[i]!, hash[i]!);
      }
      await runs.flush();
    }
    // Runs of kept, zero or mapped pages go to the writer in one call each: a call per page was a
    // large part of the save's own CPU time under an emulated host.
    for (let i = 0; i < n;) {
      const k = kind[i];
      let end = i + 1;
      while (end < n && kind[end] === k) end++;
      if (k === SLOT_MAPPED) {
        stats.pagesMapped += end - i;
        await writer.mapped(batch.pfns, disk, sector, hash, i, end);
      } else if (k === SLOT_ZERO) {
        stats.pagesZero += end - i;
        await writer.zero(end - i);
      } else {
        stats.pagesKept += end - i;
        await writer.keep(batch.data.subarray(i * PAGE_SIZE, end * PAGE_SIZE));
      }
      i = end;
    }
    await hashed;
  }
  stats.diskReads = runs.reads;
  stats.streamHash = whole.digest();
  return stats;
}
