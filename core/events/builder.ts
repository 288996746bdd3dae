/**
 * Builds columnar EventBatches. Columns grow by doubling; `build()` hands out trimmed copies and starts afresh,
 * so a producer can reuse one builder for a whole run.
 */
import { IoDir, Op, type EventBatch, type GuestEvent, type Segment } from './batch.ts';

type Column = Uint8Array | Uint32Array | Float64Array;

function grow<T extends Column>(col: T, need: number): T {
  if (need <= col.length) return col;
  let size = Math.max(16, col.length * 2);
  while (size < need) size *= 2;
  const bigger = new (col.constructor as new (n: number) => T)(size);
  bigger.set(col);
  return bigger;
}

export class BatchBuilder {
  private n = 0;
  private nArgs = 0;
  private op = new Uint8Array(64);
  private id = new Float64Array(64);
  private dir = new Uint8Array(64);
  private disk = new Uint32Array(64);
  private sector = new Float64Array(64);
  private count = new Float64Array(64);
  private argStart = new Uint32Array(65);
  private pfn = new Uint32Array(256);
  private first = new Uint8Array(256);
  private last = new Uint8Array(256);
  private labels = new Map<number, string>();

  get length(): number {
    return this.n;
  }

  private begin(op: Op): number {
    const i = this.n;
    if (i + 1 >= this.op.length) {
      const need = i + 2;
      this.op = grow(this.op, need);
      this.id = grow(this.id, need);
      this.dir = grow(this.dir, need);
      this.disk = grow(this.disk, need);
      this.sector = grow(this.sector, need);
      this.count = grow(this.count, need);
      // One more offset than events, whatever size the event columns grew to.
      this.argStart = grow(this.argStart, this.op.length + 1);
    }
    this.op[i] = op;
    this.id[i] = 0;
    this.dir[i] = 0;
    this.disk[i] = 0;
    this.sector[i] = 0;
    this.count[i] = 0;
    this.argStart[i] = this.nArgs;
    this.n = i + 1;
    this.argStart[i + 1] = this.nArgs;
    return i;
  }

  private arg(pfn: number, first: number, last: number): void {
    const k = this.nArgs;
    if (k >= this.pfn.length) {
      this.pfn = grow(this.pfn, k + 1);
      this.first = grow(this.first, k + 1);
      this.last = grow(this.last, k + 1);
    }
    this.pfn[k] = pfn;
    this.first[k] = first;
    this.last[k] = last;
    this.nArgs = k + 1;
    this.argStart[this.n] = this.nArgs;
  }

  /** A read or write request over consecutive sectors starting at `sector`, in segment order. */
  submit(id: number, dir: 'read' | 'write', disk: number, sector: number, segs: readonly Segment[]): this {
    const i = this.begin(Op.Submit);
    this.id[i] = id;
    this.dir[i] = dir === 'read' ? IoDir.Read : IoDir.Write;
    this.disk[i] = disk;
    this.sector[i] = sector;
    let sectors = 0;
    for (const [pfn, first, last] of segs) {
      this.arg(pfn, first, last);
      sectors += last - first + 1;
    }
    this.count[i] = sectors;
    return this;
  }

  /** A discard request of `count` sectors: no pages involved. */
  submitDiscard(id: number, disk: number, sector: number, count: number): this {
    const i = this.begin(Op.Submit);
    this.id[i] = id;
    this.dir[i] = IoDir.Discard;
    this.disk[i] = disk;
    this.sector[i] = sector;
    this.count[i] = count;
    return this;
  }

  complete(id: number, ok: boolean): this {
    const i = this.begin(Op.Complete);
    this.id[i] = id;
    this.dir[i] = ok ? 1 : 0;
    return this;
  }

  private pages(op: Op, pfns: ArrayLike<number>): this {
    this.begin(op);
    for (let k = 0; k < pfns.length; k++) this.arg(pfns[k]!, 0, 7);
    return this;
  }

  memWrite(pfns: ArrayLike<number>): this {
    return this.pages(Op.MemWrite, pfns);
  }

  release(pfns: ArrayLike<number>): this {
    return this.pages(Op.Release, pfns);
  }

  dirty(pfns: ArrayLike<number>): this {
    return this.pages(Op.Dirty, pfns);
  }

  checkpoint(name: string): this {
    const i = this.begin(Op.Checkpoint);
    this.labels.set(i, name);
    return this;
  }

  /** Appends a copy of event `i` of `src`. */
  copy(src: EventBatch, i: number): this {
    const j = this.begin(src.op[i]! as Op);
    this.id[j] = src.id[i]!;
    this.dir[j] = src.dir[i]!;
    this.disk[j] = src.disk[i]!;
    this.sector[j] = src.sector[i]!;
    this.count[j] = src.count[i]!;
    for (let k = src.argStart[i]!; k < src.argStart[i + 1]!; k++)
      this.arg(src.pfn[k]!, src.first[k]!, src.last[k]!);
    const label = src.labels.get(i);
    if (label !== undefined) this.labels.set(j, label);
    return this;
  }

  /** Appends one event given as an object. */
  add(e: GuestEvent): this {
    switch (e.op) {
      case 'submit':
        return e.dir === 'discard'
          ? this.submitDiscard(e.id, e.disk, e.sector, e.count)
          : this.submit(e.id, e.dir, e.disk, e.sector, e.segs);
      case 'complete':
        return this.complete(e.id, e.ok);
      case 'mem_write':
        return this.memWrite(e.pfns);
      case 'release':
        return this.release(e.pfns);
      case 'dirty':
        return this.dirty(e.pfns);
      case 'checkpoint':
        return this.checkpoint(e.name);
    }
  }

  /** Returns the events added so far as a batch and empties the builder. */
  build(): EventBatch {
    const n = this.n;
    const a = this.nArgs;
    const batch: EventBatch = {
      length: n,
      op: this.op.slice(0, n),
      id: this.id.slice(0, n),
      dir: this.dir.slice(0, n),
      disk: this.disk.slice(0, n),
      sector: this.sector.slice(0, n),
      count: this.count.slice(0, n),
      argStart: this.argStart.slice(0, n + 1),
      pfn: this.pfn.slice(0, a),
      first: this.first.slice(0, a),
      last: this.last.slice(0, a),
      labels: this.labels,
    };
    this.n = 0;
    this.nArgs = 0;
    this.argStart[0] = 0;
    this.labels = new Map();
    return batch;
  }
}

/** One batch holding `events`, in order. */
export function batchOf(events: readonly GuestEvent[]): EventBatch {
  const b = new BatchBuilder();
  for (const e of events) b.add(e);
  return b.build();
}
