/**
 * Decides which pages go into MAP: every snapshot entry is checked before anything is written, its
 * page hashed from memory, and (with verifyMapped) its sectors read back and compared, so an entry the
 * tracker got wrong is demoted to data instead of producing an image that cannot be restored.
 * Costs O(mapped entries) of typed arrays; the rest of the guest is handled by the page scan.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
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

/**
 * Hashes and verifies the snapshot entries. finish() runs alongside the writer's page output: it
 * waits only for disk reads, so the two share the thread while reads and writes are in flight.
 * Checks the snapshot and the block store on construction, before anything is written.
 * Verified entries are hashed once, from the disk's bytes: an entry is kept only if those bytes equal
 * the page in memory, so that hash is the page's too.
 */
export class MapVerifier {
  /** Pfns of every entry, ascending: what the page scan skips if no entry is demoted. */
  readonly candidates: Uint32Array;
  private readonly hash: BigUint64Array;
  private readonly keep: Uint8Array;
  private readonly runs: SectorRuns | undefined;
  private readonly page = new Uint8Array(PAGE_SIZE);
  private demoted = 0;
  private stopped = false;
  private result: Promise<MapPlan> | undefined;

  constructor(
    private readonly input: ImageInput,
    policy: ImagePolicy,
  ) {
    const n = policy.useMap ? input.mapping.length : 0;
    if (n > 0) checkMapping(input);
    this.hash = new BigUint64Array(n);
    this.keep = new Uint8Array(n).fill(1);
    this.candidates = input.mapping.pfn.slice(0, n).sort();
    if (n > 0 && policy.verifyMapped) {
      if (!input.blocks) {
        throw new CheckpointError('the policy verifies mapped pages but no block store was given');
      }
      checkBlockDisks(input, input.blocks);
      const { memory, mapping } = input;
      this.runs = new SectorRuns(
        input.blocks,
        input.hasher,
        (i, _disk, _sector, _expected, actual, sectors) => {
          const pfn = mapping.pfn[i]!;
          let page: Uint8Array = this.page;
          if (memory.pageView) page = memory.pageView(pfn);
          else memory.readPage(pfn, page);
          if (Buffer.compare(sectors, page) === 0) {
            this.hash[i] = actual;
          } else {
            this.keep[i] = 0;
            this.demoted++;
          }
        },
      );
    }
  }

  /** The plan, once every entry is hashed and verified; the first call starts the work. */
  finish(): Promise<MapPlan> {
    this.result ??= this.run();
    return this.result;
  }

  /** After a failure elsewhere: stops, and waits for disk reads still in flight before the caller cleans up. */
  async abandon(): Promise<void> {
    this.stopped = true;
    await this.result?.catch(() => undefined);
    await this.runs?.abandon();
  }

  private async run(): Promise<MapPlan> {
    if (this.runs) await this.verifyAll(this.runs);
    else await this.hashAll();
    const n = this.hash.length;
    if (n === 0) return NO_MAP;
    const mapped = n - this.demoted;
    const skip = this.demoted === 0 ? this.candidates : new Uint32Array(mapped);
    if (this.demoted > 0) {
      for (let i = 0, k = 0; i < n; i++) if (this.keep[i] === 1) skip[k++] = this.input.mapping.pfn[i]!;
      skip.sort();
    }
    return { hash: this.hash, keep: this.keep, mapped, demoted: this.demoted, skip };
  }

  /** Reads each entry's sectors (coalesced, several reads in flight); the visitor compares and hashes. */
  private async verifyAll(runs: SectorRuns): Promise<void> {
    const { disk, sector } = this.input.mapping;
    for (let i = 0; i < this.hash.length && !this.stopped; i++) {
      if (!runs.fits(disk[i]!, sector[i]!)) await runs.submit();
      runs.add(i, disk[i]!, sector[i]!, 0n);
    }
    if (!this.stopped) await runs.flush();
  }

  /** Without verification: hashes from memory, yielding every STEP_ENTRIES so the writer's output goes on. */
  private async hashAll(): Promise<void> {
    const { mapping, memory, hasher } = this.input;
    for (let i = 0; i < this.hash.length && !this.stopped; i++) {
      memory.readPage(mapping.pfn[i]!, this.page);
      this.hash[i] = hasher.hash64(this.page);
      if (i % STEP_ENTRIES === STEP_ENTRIES - 1) await nextTurn();
    }
  }
}

/** Entries hashed between turns of the event loop: about 1 MiB of memory. */
const STEP_ENTRIES = 256;

export async function planMap(input: ImageInput, policy: ImagePolicy): Promise<MapPlan> {
  return new MapVerifier(input, policy).finish();
}
