/**
 * Core events to trace records (the lines of a JSON Lines trace, the records of a binary one). The only
 * difference: a discard submitted with a negative id and completed ok by the very next event is one
 * instantaneous `discard` record; readers give it back as such a pair, numbering the ids -1, -2, ...
 * Optionally checks every event as a reader would, so a writer never produces an unreadable trace.
 */
import { IoDir, Op } from '../events/batch.ts';
import { LONE_SURROGATE, MAX_ID, MAX_T, TraceChecker } from './checker.ts';
import { Fault, TraceError, fault } from './errors.ts';
import type { TraceBatch } from './batch.ts';
import type { TraceHeader } from './header.ts';

/** Receives records in trace order. `t` is the timestamp in nanoseconds, NaN for none. */
export interface RecordSink {
  /** A read or write: segments are `pfn/first/last[from .. to)`. */
  submit(
    id: number,
    dir: typeof IoDir.Read | typeof IoDir.Write,
    disk: number,
    sector: number,
    pfn: Uint32Array,
    first: Uint8Array,
    last: Uint8Array,
    from: number,
    to: number,
    t: number,
  ): void;
  /** A discard that stays in flight until its completion (the io_submit extension). */
  submitDiscard(id: number, disk: number, sector: number, count: number, t: number): void;
  complete(id: number, ok: boolean, t: number): void;
  /** An instantaneous discard. */
  discard(disk: number, sector: number, count: number, t: number): void;
  pages(
    op: typeof Op.MemWrite | typeof Op.Release | typeof Op.Dirty,
    pfn: Uint32Array,
    from: number,
    to: number,
    t: number,
  ): void;
  checkpoint(name: string, t: number): void;
}

function isNat(v: number, max: number): boolean {
  return v >= 0 && v <= max && Number.isInteger(v);
}

export class RecordSplitter {
  private readonly checker: TraceChecker | undefined;
  /** Events seen, for messages. */
  private seq = 0;
  /** What the event being checked is, for messages ("read 12"). */
  private what = '';
  /** A discard with a negative id, held until the next event shows whether it completed at once. */
  private pending:
    { id: number; disk: number; sector: number; count: number; t: number; seq: number } | undefined;

  constructor(
    private readonly sink: RecordSink,
    header: TraceHeader,
    validate: boolean,
  ) {
    this.checker = validate ? new TraceChecker(header, 'event') : undefined;
  }

  /** Events handed in so far. */
  get events(): number {
    return this.seq;
  }

  push(b: TraceBatch): void {
    const t = b.t;
    for (let i = 0; i < b.length; i++) {
      this.seq++;
      this.what = '';
      try {
        const ti = t === undefined ? NaN : t[i]!;
        if (ti === ti && !(ti >= 0 && ti <= MAX_T && Number.isInteger(ti))) {
          fault(`timestamp ${ti} is not an integer number of nanoseconds in 0..2^53-1`);
        }
        this.event(b, i, ti);
      } catch (err) {
        if (err instanceof Fault) {
          const what = this.what === '' ? '' : `${this.what}: `;
          throw new TraceError(`event ${this.seq}: ${what}${err.message}`, { event: this.seq });
        }
        throw err;
      }
    }
  }

  /** No more events: a discard still held was not completed at once. */
  end(): void {
    const p = this.pending;
    if (p !== undefined) this.unfinished(p.id, p.seq);
  }

  private unfinished(id: number, seq: number): never {
    throw new TraceError(
      `event ${seq}: discard ${id} has a negative id but is not completed ok by the next event ` +
        '(a trace reserves negative ids for instantaneous discards)',
      { event: seq },
    );
  }

  private event(b: TraceBatch, i: number, t: number): void {
    const op = b.op[i]!;
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      if (op !== Op.Complete || b.id[i] !== p.id || b.dir[i] !== 1) this.unfinished(p.id, p.seq);
      this.sink.discard(p.disk, p.sector, p.count, p.t);
      return;
    }
    const c = this.checker;
    switch (op) {
      case Op.Submit: {
        const id = b.id[i]!;
        const dir = b.dir[i]!;
        const disk = b.disk[i]!;
        const sector = b.sector[i]!;
        if (dir > IoDir.Discard) fault(`submit ${id}: unknown direction ${dir}`);
        const what = dir === IoDir.Read ? 'read' : dir === IoDir.Write ? 'write' : 'discard';
        this.what = `${what} ${id}`;
        if (!isNat(sector, Number.MAX_SAFE_INTEGER)) fault(`sector ${sector} is not a non-negative integer`);
        if (dir === IoDir.Discard) {
          const count = b.count[i]!;
          if (!isNat(count, Number.MAX_SAFE_INTEGER) || count === 0) {
            fault(`count must be a positive integer, got ${count}`);
          }
          c?.range(disk, sector, count);
          if (id < 0 && id >= -MAX_ID && Number.isInteger(id)) {
            this.pending = { id, disk, sector, count, t, seq: this.seq };
            return;
          }
          checkId(id);
          c?.submit(id, this.seq);
          this.sink.submitDiscard(id, disk, sector, count, t);
          return;
        }
        checkId(id);
        const rw = dir === IoDir.Read ? IoDir.Read : IoDir.Write;
        const from = b.argStart[i]!;
        const to = b.argStart[i + 1]!;
        if (c !== undefined) {
          c.range(
            disk,
            sector,
            c.segments(rw === IoDir.Read ? 'read' : 'write', b.pfn, b.first, b.last, from, to),
          );
          c.submit(id, this.seq);
        } else if (to === from) fault(`a ${what} with no segments`);
        this.sink.submit(id, rw, disk, sector, b.pfn, b.first, b.last, from, to, t);
        return;
      }
      case Op.Complete: {
        const id = b.id[i]!;
        this.what = 'completion';
        checkId(id);
        c?.complete(id);
        this.sink.complete(id, b.dir[i] === 1, t);
        return;
      }
      case Op.MemWrite:
      case Op.Release:
      case Op.Dirty: {
        const from = b.argStart[i]!;
        const to = b.argStart[i + 1]!;
        if (c !== undefined) {
          this.what = op === Op.MemWrite ? 'mem_write' : op === Op.Release ? 'release' : 'dirty';
          for (let k = from; k < to; k++) c.page(b.pfn[k]!, '');
        }
        this.sink.pages(op, b.pfn, from, to, t);
        return;
      }
      case Op.Checkpoint: {
        const name = b.labels.get(i) ?? '';
        this.what = 'checkpoint';
        if (LONE_SURROGATE.test(name)) fault('name is not well-formed Unicode (a lone surrogate)');
        this.sink.checkpoint(name, t);
        return;
      }
      default:
        fault(`unknown op ${op}`);
    }
  }
}

function checkId(id: number): void {
  if (!isNat(id, MAX_ID)) {
    fault(
      `request id ${id} is not an integer in 0..2^53-1 (negative ids are reserved for instantaneous discards)`,
    );
  }
}
