/**
 * restoreImage: loads an image into guest memory, refusing rather than guessing. Beyond what walkImage
 * checks, the target must match the image's geometry and disk identities, and every mapped page read
 * from disk must hash to the value recorded at checkpoint time before it is written to memory.
 * Mapped pages are read while the rest of the image is (MappedReads).
 */
import { RestoreError } from '../errors.ts';
import { PAGE_SIZE, type DiskIdentity } from '../ports.ts';
import { hex64 } from './format.ts';
import { decodeState } from './records/state.ts';
import { MappedReads } from './mapped-reads.ts';
import { SectorRuns } from './sector-runs.ts';
import type { RestoreStats, RestoreTarget } from './types.ts';
import { walkImage } from './walk.ts';

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

function describeDisk(d: DiskIdentity | undefined): string {
  return d === undefined ? 'no such disk' : `uuid '${d.uuid}' (${d.sectors} sectors)`;
}

export async function restoreImage(path: string, target: RestoreTarget): Promise<RestoreStats> {
  const started = performance.now();
  const { memory, blocks, hasher } = target;
  let state: Uint8Array = new Uint8Array(0);
  const runs = new SectorRuns(blocks, hasher, (pfn, disk, sector, expected, actual, page) => {
    if (expected !== actual) {
      throw new RestoreError(
        `page ${pfn} (disk ${disk}, sector ${sector}): content hash mismatch, the disk changed since the checkpoint (expected ${hex64(expected)}, got ${hex64(actual)})`,
        pfn,
        disk,
        sector,
      );
    }
    memory.writePage(pfn, page);
  });

  const reads = new MappedReads(runs);

  const walked = await walkImage(path, hasher, {
    record() {
      reads.check();
    },
    geometry(g) {
      if (g.pageCount !== memory.pageCount) {
        throw new RestoreError(
          `the image holds ${g.pageCount} pages, the target memory has ${memory.pageCount}`,
        );
      }
    },
    disk(d) {
      const have = blocks.disks.find((b) => b.id === d.id);
      if (have === undefined || have.uuid !== d.uuid || have.sectors !== d.sectors) {
        throw new RestoreError(
          `disk ${d.id}: the image was written against ${describeDisk(d)}, the block store has ${describeDisk(have)}`,
          undefined,
          d.id,
        );
      }
    },
    state(body) {
      state = decodeState(body);
    },
    map(m) {
      reads.add(m);
    },
    zero(z) {
      for (let i = 0; i < z.count; i++) {
        const end = z.start[i]! + z.pages[i]!;
        for (let pfn = z.start[i]!; pfn < end; pfn++) memory.writePage(pfn, ZERO_PAGE);
      }
    },
    pageData(p) {
      for (let i = 0; i < p.count; i++)
        memory.writePage(p.pfn[i]!, p.pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    },
    async end() {
      await reads.finish();
    },
  }).catch(async (error: unknown) => {
    // A page the disks could not prove was found before whatever the walk then failed on: report it.
    await reads.stop();
    reads.check();
    throw error;
  });

  return {
    state,
    ...walked.counts,
    diskReads: runs.reads,
    bytesReadDisk: runs.bytesRead,
    bytesReadImage: walked.bytesRead,
    seconds: (performance.now() - started) / 1000,
  };
}
