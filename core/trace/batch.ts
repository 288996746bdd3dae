/**
 * Trace batches: EventBatches that may carry the trace's timestamps, and the columnar builder the
 * readers fill directly (no object per event or per segment).
 */
import { Op, type EventBatch } from '../events/batch.ts';

/**
 * An EventBatch read from (or to be written to) a trace. `t`, when present, holds each event's
 * timestamp in nanoseconds, NaN where the event had none. Consumers that ignore `t` see a plain batch.
 */
export interface TraceBatch extends EventBatch {
  readonly t?: Float64Array;
}

/** Default number of events per batch a reader yields. */
export const DEFAULT_BATCH_SIZE = 65536;

/**
 * Fills batch columns event by event. Columns are sized for a full batch up front (page arguments grow
 * by doubling); `build()` hands the columns out as views and starts on fresh ones.
 */
export class BatchAssembler {
  n = 0;
  nArgs = 0;
  op!: Uint8Array;
  id!: Float64Array;
  dir!: Uint8Array;
  disk!: Uint32Array;
  sector!: Float64Array;
  count!: Float64Array;
  argStart!: Uint32Array;
  pfn!: Uint32Array;
  first!: Uint8Array;
  last!: Uint8Array;
  t: Float64Array | undefined;
  labels!: Map<number, string>;
  private readonly capacity: number;

  constructor(readonly batchSize: number) {
    // A discard line adds two events and a batch is only cut between lines: room for one more.
    this.capacity = batchSize + 2;
    this.fresh(Math.max(64, batchSize * 2));
  }

  private fresh(args: number): void {
    const c = this.capacity;
    this.op = new Uint8Array(c);
    this.id = new Float64Array(c);
    this.dir = new Uint8Array(c);
    this.disk = new Uint32Array(c);
    this.sector = new Float64Array(c);
    this.count = new Float64Array(c);
    this.argStart = new Uint32Array(c + 1);
    this.pfn = new Uint32Array(args);
    this.first = new Uint8Array(args);
    this.last = new Uint8Array(args);
    this.t = undefined;
    this.labels = new Map();
    this.n = 0;
    this.nArgs = 0;
  }

  get full(): boolean {
    return this.n >= this.batchSize;
  }

  /** Starts event `op`; its other columns are zero. Returns its index. */
  begin(op: Op, t: number): number {
    const i = this.n;
    this.op[i] = op;
    this.id[i] = 0;
    this.dir[i] = 0;
    this.disk[i] = 0;
    this.sector[i] = 0;
    this.count[i] = 0;
    this.argStart[i] = this.nArgs;
    this.n = i + 1;
    this.argStart[i + 1] = this.nArgs;
    if (t === t) {
      // Not NaN: this event has a timestamp.
      if (this.t === undefined) this.t = new Float64Array(this.capacity).fill(NaN);
      this.t[i] = t;
    } else if (this.t !== undefined) this.t[i] = NaN;
    return i;
  }

  /** Appends a page argument to the event begun last. */
  arg(pfn: number, first: number, last: number): void {
    const k = this.nArgs;
    if (k >= this.pfn.length) this.growArgs(k + 1);
    this.pfn[k] = pfn;
    this.first[k] = first;
    this.last[k] = last;
    this.nArgs = k + 1;
    this.argStart[this.n] = k + 1;
  }

  /** Makes room for `need` page arguments in all. */
  growArgs(need: number): void {
    let size = this.pfn.length * 2;
    while (size < need) size *= 2;
    const pfn = new Uint32Array(size);
    const first = new Uint8Array(size);
    const last = new Uint8Array(size);
    pfn.set(this.pfn);
    first.set(this.first);
    last.set(this.last);
    this.pfn = pfn;
    this.first = first;
    this.last = last;
  }

  submit(id: number, dir: number, disk: number, sector: number, t: number): number {
    const i = this.begin(Op.Submit, t);
    this.id[i] = id;
    this.dir[i] = dir;
    this.disk[i] = disk;
    this.sector[i] = sector;
    return i;
  }

  complete(id: number, ok: boolean, t: number): void {
    const i = this.begin(Op.Complete, t);
    this.id[i] = id;
    this.dir[i] = ok ? 1 : 0;
  }

  checkpoint(name: string, t: number): void {
    this.labels.set(this.begin(Op.Checkpoint, t), name);
  }

  /** The events so far as a batch; the assembler starts afresh. */
  build(): TraceBatch {
    const n = this.n;
    const a = this.nArgs;
    const batch: TraceBatch = {
      length: n,
      op: this.op.subarray(0, n),
      id: this.id.subarray(0, n),
      dir: this.dir.subarray(0, n),
      disk: this.disk.subarray(0, n),
      sector: this.sector.subarray(0, n),
      count: this.count.subarray(0, n),
      argStart: this.argStart.subarray(0, n + 1),
      pfn: this.pfn.subarray(0, a),
      first: this.first.subarray(0, a),
      last: this.last.subarray(0, a),
      labels: this.labels,
      ...(this.t === undefined ? {} : { t: this.t.subarray(0, n) }),
    };
    this.fresh(Math.max(64, this.pfn.length));
    return batch;
  }
}
