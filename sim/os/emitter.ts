/**
 * The hypervisor's side of the simulation: turns what the guest does into the event stream, in
 * EventBatches of at most `maxBatch` events, each batch ending right after a checkpoint barrier.
 *
 * Memory writes are reported the way a write-protecting hypervisor sees them: a page's first write
 * after it took part in I/O, or after the last checkpoint, is reported; further writes to the same page
 * in between are invisible (the page is already writable and already known to be changed). Writes are
 * buffered and reported as one mem_write event of up to 32 pages, always before any other event, so
 * the order of writes relative to I/O is exact.
 */
import type { EventBatch, Segment } from '../../core/events/batch.ts';
import { BatchBuilder } from '../../core/events/builder.ts';

type MutableSegment = [pfn: number, first: number, last: number];

const WRITES_PER_EVENT = 32;

/** Counters of what was emitted, by kind: for summaries and tests, not for the stream itself. */
export interface EmitStats {
  events: number;
  submits: number;
  reads: number;
  writes: number;
  discards: number;
  readSegments: number;
  subPageSegments: number;
  completions: number;
  failed: number;
  memWrites: number;
  memWritePages: number;
  releases: number;
  releasePages: number;
  checkpoints: number;
}

export interface EmitterOptions {
  readonly pages: number;
  readonly maxBatch: number;
  /** Events between periodic checkpoints; 0 for none. */
  readonly every: number;
  /** Report only a page's first write per epoch and I/O (false: every write). */
  readonly coalesce: boolean;
}

export class Emitter {
  /** Finished batches, in order, waiting for the consumer. */
  readonly out: EventBatch[] = [];
  readonly stats: EmitStats = {
    events: 0,
    submits: 0,
    reads: 0,
    writes: 0,
    discards: 0,
    readSegments: 0,
    subPageSegments: 0,
    completions: 0,
    failed: 0,
    memWrites: 0,
    memWritePages: 0,
    releases: 0,
    releasePages: 0,
    checkpoints: 0,
  };
  /** Events since the last checkpoint. */
  private since = 0;
  private cutting = false;
  private readonly b = new BatchBuilder();
  private readonly maxBatch: number;
  private readonly every: number;
  private readonly coalesce: boolean;
  /** Per page: the epoch its latest write was reported in (0: it took part in I/O since). */
  private readonly reported: Uint32Array;
  private epoch = 1;
  private readonly wbuf = new Uint32Array(WRITES_PER_EVENT);
  private wn = 0;
  private segPool: MutableSegment[] = [];
  private readonly segs: MutableSegment[] = [];

  constructor(o: EmitterOptions) {
    this.maxBatch = Math.max(1, o.maxBatch);
    this.every = o.every;
    this.coalesce = o.coalesce;
    this.reported = new Uint32Array(o.pages);
  }

  get byteLength(): number {
    return this.reported.byteLength;
  }

  /** All events emitted so far, checkpoints included. */
  get total(): number {
    return this.stats.events;
  }

  /** The guest's CPU (or a device model copying on its behalf) changed page `pfn`. */
  memWrite(pfn: number): void {
    if (this.coalesce) {
      if (this.reported[pfn] === this.epoch) return;
      this.reported[pfn] = this.epoch;
    }
    this.wbuf[this.wn++] = pfn;
    if (this.wn === WRITES_PER_EVENT) this.flushWrites();
  }

  /** Page `pfn` took part in I/O: its next write must be reported again. */
  ioTouch(pfn: number): void {
    this.reported[pfn] = 0;
  }

  flushWrites(): void {
    const n = this.wn;
    if (n === 0) return;
    this.wn = 0;
    this.b.memWrite(this.wbuf.subarray(0, n));
    this.stats.memWrites++;
    this.stats.memWritePages += n;
    this.counted();
  }

  /** A read (dir 0) or write (dir 1) of consecutive sectors from `sector`, segments in order. */
  submit(
    id: number,
    dir: 0 | 1,
    disk: number,
    sector: number,
    pfn: ArrayLike<number>,
    first: ArrayLike<number>,
    last: ArrayLike<number>,
    n: number,
  ): void {
    this.flushWrites();
    const segs = this.segs;
    segs.length = 0;
    while (this.segPool.length < n) this.segPool.push([0, 0, 0]);
    let sub = 0;
    for (let k = 0; k < n; k++) {
      const s = this.segPool[k]!;
      const p = pfn[k]!;
      s[0] = p;
      s[1] = first[k]!;
      s[2] = last[k]!;
      if (s[1] !== 0 || s[2] !== 7) sub++;
      segs.push(s);
      this.reported[p] = 0;
    }
    this.b.submit(id, dir === 0 ? 'read' : 'write', disk, sector, segs as readonly Segment[]);
    const st = this.stats;
    st.submits++;
    if (dir === 0) {
      st.reads++;
      st.readSegments += n;
    } else st.writes++;
    st.subPageSegments += sub;
    this.counted();
  }

  discard(id: number, disk: number, sector: number, count: number): void {
    this.flushWrites();
    this.b.submitDiscard(id, disk, sector, count);
    this.stats.submits++;
    this.stats.discards++;
    this.counted();
  }

  complete(id: number, ok: boolean): void {
    this.flushWrites();
    this.b.complete(id, ok);
    this.stats.completions++;
    if (!ok) this.stats.failed++;
    this.counted();
  }

  /** Pages `pfn[0..n)` were given back to the hypervisor. */
  release(pfn: ArrayLike<number>, n: number): void {
    if (n === 0) return;
    this.flushWrites();
    const pfns = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      pfns[k] = pfn[k]!;
      this.reported[pfns[k]!] = 0;
    }
    this.b.release(pfns);
    this.stats.releases++;
    this.stats.releasePages += n;
    this.counted();
  }

  /** A checkpoint barrier: ends the current batch. */
  checkpoint(name: string): void {
    this.cutting = true;
    this.flushWrites();
    this.cutting = false;
    this.b.checkpoint(name);
    this.stats.events++;
    this.stats.checkpoints++;
    this.since = 0;
    this.epoch++;
    this.out.push(this.b.build());
  }

  /** Flushes pending writes and hands out the last, partial batch. */
  finish(): void {
    this.flushWrites();
    if (this.b.length > 0) this.out.push(this.b.build());
  }

  private counted(): void {
    this.stats.events++;
    this.since++;
    if (this.b.length >= this.maxBatch) this.out.push(this.b.build());
    if (this.every > 0 && this.since >= this.every && !this.cutting) {
      this.checkpoint(`ckpt-${this.stats.checkpoints + 1}`);
    }
  }
}
