/**
 * Reads mapped pages from a BlockStore with as few, as large reads as allowed: pages arriving in
 * (disk, sector) order whose sector ranges touch or overlap are read together, up to RUN_MAX_SECTORS per
 * read. Each page is hashed and handed to a visitor, which decides what a mismatch means (the writer
 * demotes the page, a restore refuses). Used by both, so both read the disk the same way.
 */
import type { Hasher64 } from '../hash.ts';
import { SECTOR_SIZE, SECTORS_PER_PAGE, PAGE_SIZE, type BlockStore } from '../ports.ts';

/** 1 MiB per read: large enough to run at disk bandwidth, small enough to bound the buffer. */
export const RUN_MAX_SECTORS = 2048;

export type RunVisitor = (
  tag: number,
  disk: number,
  sector: number,
  expected: bigint,
  actual: bigint,
  page: Uint8Array,
) => void;

export class SectorRuns {
  /** readSectors calls made so far. */
  reads = 0;
  bytesRead = 0;
  /** Grows to the longest run seen, up to RUN_MAX_SECTORS, so a few mapped pages cost a few KiB. */
  private buffer = new Uint8Array(0);
  private disk = 0;
  private start = 0;
  private end = 0;
  private n = 0;
  private tags = new Uint32Array(64);
  private sectors = new Float64Array(64);
  private hashes = new BigUint64Array(64);

  constructor(
    private readonly blocks: BlockStore,
    private readonly hasher: Hasher64,
    private readonly visit: RunVisitor,
  ) {}

  /** Whether the page at (disk, sector) can join the pending read; if not, flush() first. */
  fits(disk: number, sector: number): boolean {
    if (this.n === 0) return true;
    return (
      disk === this.disk &&
      sector <= this.end &&
      Math.max(this.end, sector + SECTORS_PER_PAGE) - this.start <= RUN_MAX_SECTORS
    );
  }

  /** Queues a page; callers add in (disk, sector) order and check fits() first. */
  add(tag: number, disk: number, sector: number, expected: bigint): void {
    if (this.n === 0) {
      this.disk = disk;
      this.start = sector;
      this.end = sector + SECTORS_PER_PAGE;
    } else {
      this.end = Math.max(this.end, sector + SECTORS_PER_PAGE);
    }
    if (this.n === this.tags.length) this.grow();
    this.tags[this.n] = tag;
    this.sectors[this.n] = sector;
    this.hashes[this.n] = expected;
    this.n++;
  }

  /** Reads the pending run and visits its pages in the order they were added. */
  async flush(): Promise<void> {
    const n = this.n;
    if (n === 0) return;
    // Reset first: if a visitor throws, the run is not visited twice.
    this.n = 0;
    const count = this.end - this.start;
    if (this.buffer.length < count * SECTOR_SIZE) {
      this.buffer = new Uint8Array(
        Math.min(RUN_MAX_SECTORS, Math.max(count, this.buffer.length * 2)) * SECTOR_SIZE,
      );
    }
    const bytes = this.buffer.subarray(0, count * SECTOR_SIZE);
    await this.blocks.readSectors(this.disk, this.start, count, bytes);
    this.reads++;
    this.bytesRead += bytes.length;
    for (let i = 0; i < n; i++) {
      const sector = this.sectors[i]!;
      const offset = (sector - this.start) * SECTOR_SIZE;
      const page = bytes.subarray(offset, offset + PAGE_SIZE);
      this.visit(this.tags[i]!, this.disk, sector, this.hashes[i]!, this.hasher.hash64(page), page);
    }
  }

  private grow(): void {
    const size = this.tags.length * 2;
    const tags = new Uint32Array(size);
    const sectors = new Float64Array(size);
    const hashes = new BigUint64Array(size);
    tags.set(this.tags);
    sectors.set(this.sectors);
    hashes.set(this.hashes);
    this.tags = tags;
    this.sectors = sectors;
    this.hashes = hashes;
  }
}
