/**
 * The core's memory and disk ports over symbolic content: bytes are materialised from seeds on
 * demand, page by page or run by run, so images of a 16 GiB guest never need 16 GiB of RAM.
 */
import { EventError } from '../../core/errors.ts';
import {
  PAGE_SIZE,
  SECTORS_PER_PAGE,
  type BlockStore,
  type ContentProbe,
  type DiskIdentity,
  type GuestMemory,
} from '../../core/ports.ts';
import { materialize } from '../../sim/content/seeds.ts';
import type { FrozenDisk, SymbolicDisk } from '../../sim/content/symbolic-disk.ts';
import type { ReplayWorld } from '../../sim/replay/replay-world.ts';

const CHUNK = 2048;

/** A frozen set of disks as a block store. */
export class SymbolicBlockStore implements BlockStore {
  private readonly seeds = new Float64Array(CHUNK);

  constructor(
    readonly disks: readonly DiskIdentity[],
    private readonly frozen: ReadonlyMap<number, FrozenDisk>,
  ) {}

  async readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    const d = this.frozen.get(disk);
    if (!d) throw new EventError(`no disk ${disk} in this snapshot`);
    for (let done = 0; done < count; done += CHUNK) {
      const n = Math.min(CHUNK, count - done);
      d.read(sector + done, n, this.seeds);
      materialize(this.seeds, 0, n, dst.subarray(done * 512, (done + n) * 512));
    }
  }
}

/** The live guest's memory, read-only: restores go to a separate target. */
export class SymbolicMemory implements GuestMemory {
  readonly pageCount: number;

  constructor(private readonly world: ReplayWorld) {
    this.pageCount = world.pageCount;
  }

  readPage(pfn: number, dst: Uint8Array): void {
    materialize(this.world.memory, pfn * SECTORS_PER_PAGE, SECTORS_PER_PAGE, dst);
  }

  writePage(): void {
    throw new Error('the simulated guest is written by its events only');
  }
}

/** Content hashes of the live world, for hash revalidation. */
export function symbolicProbe(world: ReplayWorld, hash64: (b: Uint8Array) => bigint): ContentProbe {
  const page = new Uint8Array(PAGE_SIZE);
  const seeds = new Float64Array(SECTORS_PER_PAGE);
  return {
    hashPage(pfn) {
      materialize(world.memory, pfn * SECTORS_PER_PAGE, SECTORS_PER_PAGE, page);
      return hash64(page);
    },
    hashSectors(disk, sector) {
      const d = world.disks.get(disk) as SymbolicDisk;
      for (let i = 0; i < SECTORS_PER_PAGE; i++) seeds[i] = d.get(sector + i);
      materialize(seeds, 0, SECTORS_PER_PAGE, page);
      return hash64(page);
    },
  };
}

/**
 * A restore target that keeps no bytes: it compares every page written with what the guest held
 * (materialised from seeds) and remembers which pages came and which differed.
 */
export class VerifyingMemory implements GuestMemory {
  readonly pageCount: number;
  private readonly expected = new Uint8Array(PAGE_SIZE);
  private readonly seen: Uint8Array;
  mismatches = 0;
  duplicates = 0;
  firstMismatch = -1;

  constructor(private readonly seeds: Float64Array) {
    this.pageCount = seeds.length / SECTORS_PER_PAGE;
    this.seen = new Uint8Array(this.pageCount);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    materialize(this.seeds, pfn * SECTORS_PER_PAGE, SECTORS_PER_PAGE, dst);
  }

  writePage(pfn: number, src: Uint8Array): void {
    if (this.seen[pfn]) this.duplicates++;
    this.seen[pfn] = 1;
    materialize(this.seeds, pfn * SECTORS_PER_PAGE, SECTORS_PER_PAGE, this.expected);
    if (Buffer.compare(this.expected, src.subarray(0, PAGE_SIZE)) !== 0) {
      this.mismatches++;
      if (this.firstMismatch < 0) this.firstMismatch = pfn;
    }
  }

  /** Pages never written by the restore. */
  missing(): number {
    let n = 0;
    for (let p = 0; p < this.pageCount; p++) if (!this.seen[p]) n++;
    return n;
  }

  get verified(): boolean {
    return this.mismatches === 0 && this.duplicates === 0 && this.missing() === 0;
  }
}
