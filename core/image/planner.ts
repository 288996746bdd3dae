/**
 * Decides, before anything is written, which pages go into MAP: every snapshot entry is checked, its
 * page hashed from memory, and (with verifyMapped) its sectors read back and compared, so an entry the
 * tracker got wrong is demoted to data instead of producing an image that cannot be restored.
 * Costs O(mapped entries) of typed arrays; the rest of the guest is handled by the page scan.
 */
import { CheckpointError } from '../errors.ts';
import { PAGE_SIZE, SECTORS_PER_PAGE, type BlockStore } from '../ports.ts';
import { DISK_UUID_MAX, PAGE_COUNT_MAX, REC_LENGTH_MAX } from './format.ts';
import { SectorRuns } from './sector-runs.ts';
import type { ImageInput, ImagePolicy } from './types.ts';

export interface MapPlan {
  /** Per snapshot entry: XXH64 of the page's content in memory (unset when the policy ignores the map). */
  readonly hash: BigUint64Array;
  /** Per snapshot entry: 1 if it goes into MAP, 0 if demoted because the disk disagreed. */
  readonly keep: Uint8Array;
  readonly mapped: number;
  readonly demoted: number;
  /** Pfns of the kept entries, ascending: the page scan skips exactly these. */
  readonly skip: Uint32Array;
}

const NO_MAP: MapPlan = {
  hash: new BigUint64Array(0),
  keep: new Uint8Array(0),
  mapped: 0,
  demoted: 0,
  skip: new Uint32Array(0),
};

const utf8 = new TextEncoder();

/** Rejects inputs the format cannot represent, before a byte is written. */
export function checkInput(input: ImageInput): void {
  const { pageCount } = input.memory;
  if (!Number.isInteger(pageCount) || pageCount < 0 || pageCount > PAGE_COUNT_MAX) {
    throw new CheckpointError(`guest page count ${pageCount} is not supported (max ${PAGE_COUNT_MAX})`);
  }
  const ids = new Set<number>();
  for (const d of input.disks) {
    if (ids.has(d.id)) throw new CheckpointError(`disk ${d.id} is listed twice`);
    ids.add(d.id);
    if (!Number.isSafeInteger(d.sectors) || d.sectors < 0) {
      throw new CheckpointError(`disk ${d.id} has an invalid size of ${d.sectors} sectors`);
    }
    if (utf8.encode(d.uuid).length > DISK_UUID_MAX) {
      throw new CheckpointError(`disk ${d.id} uuid is longer than ${DISK_UUID_MAX} bytes`);
    }
  }
  if (input.state.length > REC_LENGTH_MAX) {
    throw new CheckpointError(`device state of ${input.state.length} bytes exceeds ${REC_LENGTH_MAX}`);
  }
}

/** Checks the snapshot: pfns in range, sectors within their disk, sorted, no pfn twice. */
function checkMapping(input: ImageInput): void {
  const { pfn, disk, sector, length } = input.mapping;
  const pageCount = input.memory.pageCount;
  const sectorsOf = new Map(input.disks.map((d) => [d.id, d.sectors]));
  for (let i = 0; i < length; i++) {
    const p = pfn[i]!;
    const d = disk[i]!;
    const s = sector[i]!;
    if (p >= pageCount) {
      throw new CheckpointError(`mapping entry ${i}: page ${p} is beyond the guest's ${pageCount} pages`);
    }
    const sectors = sectorsOf.get(d);
    if (sectors === undefined) {
      throw new CheckpointError(
        `mapping entry ${i}: page ${p} refers to disk ${d}, which is not in the image`,
      );
    }
    if (!Number.isSafeInteger(s) || s < 0 || s + SECTORS_PER_PAGE > sectors) {
      throw new CheckpointError(
        `mapping entry ${i}: page ${p} at sector ${s} lies beyond the end of disk ${d} (${sectors} sectors)`,
      );
    }
    if (i > 0) {
      const order = disk[i - 1]! - d || sector[i - 1]! - s || pfn[i - 1]! - p;
      if (order > 0) throw new CheckpointError(`mapping is not sorted by (disk, sector, pfn) at entry ${i}`);
    }
  }
  const sorted = pfn.slice(0, length).sort();
  for (let i = 1; i < length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new CheckpointError(`page ${sorted[i]} is mapped twice`);
  }
}

/** Verifying against another disk than the image records would prove nothing: refuse. */
function checkBlockDisks(input: ImageInput, blocks: BlockStore): void {
  const { disk, length } = input.mapping;
  for (const id of new Set(disk.subarray(0, length))) {
    const want = input.disks.find((d) => d.id === id)!;
    const have = blocks.disks.find((d) => d.id === id);
    if (have === undefined || have.uuid !== want.uuid || have.sectors !== want.sectors) {
      const got = have === undefined ? 'no such disk' : `uuid '${have.uuid}' (${have.sectors} sectors)`;
      throw new CheckpointError(
        `disk ${id}: the image records uuid '${want.uuid}' (${want.sectors} sectors), the block store to verify against has ${got}`,
      );
    }
  }
}

export async function planMap(input: ImageInput, policy: ImagePolicy): Promise<MapPlan> {
  if (!policy.useMap || input.mapping.length === 0) return NO_MAP;
  checkMapping(input);
  const { mapping, memory, hasher } = input;
  const n = mapping.length;
  const hash = new BigUint64Array(n);
  const keep = new Uint8Array(n).fill(1);
  const page = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < n; i++) {
    memory.readPage(mapping.pfn[i]!, page);
    hash[i] = hasher.hash64(page);
  }
  let demoted = 0;
  if (policy.verifyMapped) {
    if (!input.blocks) {
      throw new CheckpointError('the policy verifies mapped pages but no block store was given');
    }
    checkBlockDisks(input, input.blocks);
    const runs = new SectorRuns(input.blocks, hasher, (i, _disk, _sector, expected, actual) => {
      if (expected !== actual) {
        keep[i] = 0;
        demoted++;
      }
    });
    for (let i = 0; i < n; i++) {
      const d = mapping.disk[i]!;
      const s = mapping.sector[i]!;
      if (!runs.fits(d, s)) await runs.flush();
      runs.add(i, d, s, hash[i]!);
    }
    await runs.flush();
  }
  const skip = new Uint32Array(n - demoted);
  for (let i = 0, k = 0; i < n; i++) if (keep[i] === 1) skip[k++] = mapping.pfn[i]!;
  skip.sort();
  return { hash, keep, mapped: n - demoted, demoted, skip };
}
