/**
 * Reads mapped pages from a BlockStore with as few, as large reads as allowed: pages arriving in
 * (disk, sector) order are read together when each starts at most RUN_MAX_GAP_SECTORS after the
 * sectors read so far end (touching, overlapping or across a short gap, whose bytes are read and
 * dropped), up to RUN_MAX_SECTORS per read. Up to READS_IN_FLIGHT reads are outstanding at once
 * (one at a time leaves a cold disk idle between small reads); their pages are still hashed and
 * visited in the order they were added. A visitor decides what a mismatch means (the writer demotes
 * the page, a restore refuses). Used by both, so both read the disk the same way.
 */
import type { Hasher64 } from '../hash.ts';
import { SECTOR_SIZE, SECTORS_PER_PAGE, PAGE_SIZE, type BlockStore } from '../ports.ts';

/** 1 MiB per read: large enough to run at disk bandwidth, small enough to bound the buffer. */
export const RUN_MAX_SECTORS = 2048;

/**
 * 16 KiB: the longest gap between two pages that one read spans, its bytes read and dropped (only the
 * added pages are visited). Fewer reads for more bytes: on the restore benchmark (4 GiB guest, cold
 * cache) 32 sectors made 24 % fewer reads for 15 % more bytes, 64 made 40 % fewer for 38 % more, both
 * at the same time and CPU as none; from 128 on the extra bytes cost more than the saved reads.
 */
export const RUN_MAX_GAP_SECTORS = 32;

/** Reads outstanding at once: enough to keep a disk's queue busy; each holds a buffer of up to 1 MiB. */
export const READS_IN_FLIGHT = 16;

/**
 * Sees each page read: `actual` is the XXH64 of `page`, except for SectorRuns built without a hasher,
 * whose visitor compares the bytes itself and gets `expected` there.
 */
export type RunVisitor = (
  tag: number,
  disk: number,
  sector: number,
  expected: bigint,
  actual: bigint,
  page: Uint8Array,
) => void;

/** One read: its range, the pages it serves, its buffer and, once started, its outcome. */
class Run {
  disk = 0;
  start = 0;
  end = 0;
  n = 0;
  tags = new Uint32Array(64);
  sectors = new Float64Array(64);
  hashes = new BigUint64Array(64);
  /** Grows to the longest run seen, up to RUN_MAX_SECTORS, so a few mapped pages cost a few KiB. */
  buffer = new Uint8Array(0);
  /** Settles when the read has; never rejects (a failure is kept in `error`). */
  done: Promise<void> = Promise.resolve();
  finished = false;
  error: { cause: unknown } | undefined;

  push(tag: number, sector: number, expected: bigint): void {
    if (this.n === this.tags.length) this.grow();
    this.tags[this.n] = tag;
    this.sectors[this.n] = sector;
    this.hashes[this.n] = expected;
    this.n++;
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

export class SectorRuns {
  /** readSectors calls made so far. */
  reads = 0;
  bytesRead = 0;
  /** The run being gathered. */
  private open = new Run();
  /** Started reads, oldest first: visited in this order. */
  private readonly started: Run[] = [];
  private readonly spare: Run[] = [];

  /**
   * `hasher` null: pages are not hashed (the xen save compares each page with the guest's bytes,
   * which it has hashed already: equal bytes, equal hash).
   */
  constructor(
    private readonly blocks: BlockStore,
    private readonly hasher: Hasher64 | null,
    private readonly visit: RunVisitor,
    private readonly depth = READS_IN_FLIGHT,
  ) {}

  /**
   * Whether the page at (disk, sector) can join the pending read; if not, submit() first. Never for a
   * page before the read's start: a read only grows forwards.
   */
  fits(disk: number, sector: number): boolean {
    const r = this.open;
    if (r.n === 0) return true;
    return (
      disk === r.disk &&
      sector >= r.start &&
      sector <= r.end + RUN_MAX_GAP_SECTORS &&
      Math.max(r.end, sector + SECTORS_PER_PAGE) - r.start <= RUN_MAX_SECTORS
    );
  }

  /** Queues a page; callers add in (disk, sector) order and check fits() first. */
  add(tag: number, disk: number, sector: number, expected: bigint): void {
    const r = this.open;
    if (r.n === 0) {
      r.disk = disk;
      r.start = sector;
      r.end = sector + SECTORS_PER_PAGE;
    } else {
      r.end = Math.max(r.end, sector + SECTORS_PER_PAGE);
    }
    r.push(tag, sector, expected);
  }

  /**
   * Starts reading the pending run. Visits the reads that have completed, oldest first, and waits for
   * the oldest only while `depth` reads are outstanding.
   */
  async submit(): Promise<void> {
    const r = this.open;
    if (r.n === 0) return;
    while (this.started.length >= this.depth) await this.visitOldest();
    this.open = this.spare.pop() ?? new Run();
    this.start(r);
    while (this.started.length > 0 && this.started[0]!.finished) await this.visitOldest();
  }

  /** Reads and visits everything added so far. */
  async flush(): Promise<void> {
    await this.submit();
    while (this.started.length > 0) await this.visitOldest();
  }

  /** Drops what was added and not yet visited, once the reads in flight have ended (after a failure). */
  async abandon(): Promise<void> {
    const rest = this.started.splice(0);
    await Promise.all(rest.map((r) => r.done));
    for (const r of rest) r.n = 0;
    this.spare.push(...rest);
    this.open.n = 0;
  }

  private start(r: Run): void {
    const count = r.end - r.start;
    if (r.buffer.length < count * SECTOR_SIZE) {
      r.buffer = new Uint8Array(
        Math.min(RUN_MAX_SECTORS, Math.max(count, r.buffer.length * 2)) * SECTOR_SIZE,
      );
    }
    r.finished = false;
    r.error = undefined;
    r.done = this.read(r.disk, r.start, count, r.buffer.subarray(0, count * SECTOR_SIZE)).then(
      () => {
        r.finished = true;
      },
      (cause: unknown) => {
        r.finished = true;
        r.error = { cause };
      },
    );
    this.started.push(r);
    this.reads++;
    this.bytesRead += count * SECTOR_SIZE;
  }

  /** The block store's read; one that throws instead of rejecting fails the same way. */
  private read(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    try {
      return this.blocks.readSectors(disk, sector, count, dst);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Waits for the oldest read and visits its pages. If it failed or a visitor throws, the other reads
   * are waited for and dropped first, so no read is left writing into a buffer or a closed file.
   */
  private async visitOldest(): Promise<void> {
    const r = this.started.shift()!;
    await r.done;
    try {
      if (r.error) throw r.error.cause;
      const bytes = r.buffer;
      for (let i = 0; i < r.n; i++) {
        const sector = r.sectors[i]!;
        const offset = (sector - r.start) * SECTOR_SIZE;
        const page = bytes.subarray(offset, offset + PAGE_SIZE);
        const expected = r.hashes[i]!;
        this.visit(r.tags[i]!, r.disk, sector, expected, this.hasher?.hash64(page) ?? expected, page);
      }
    } catch (error) {
      await this.abandon();
      throw error;
    } finally {
      r.n = 0;
      this.spare.push(r);
    }
  }
}
