/**
 * The replay world: gives a stream of hypervisor events its content, by the replay semantics of
 * docs/trace-format.md. Reads copy disk seeds into pages at completion, writes copy page seeds to the
 * disk; whatever the event model calls undefined (a page written while its request flies, racing
 * requests, failures, I/O in flight at a checkpoint) gets fresh "torn" seeds, so a wrong mapping can
 * never match by luck. Its race detection is deliberately naive and separate from the tracker's.
 *
 * A `dirty` record (a log-dirty epoch, as a Xen recording has them) gives fresh content only to the
 * pages the trace shows no write for in that epoch: a page the recording backend's own I/O accounts
 * for (a read filled it, or the guest wrote it and then wrote it out) keeps the content that I/O left.
 *
 * With `readsLandAtCompletion` (a trace whose header meta says so: the Xen backend's recordings), a
 * read's data lands at its completion event, so a `dirty` record naming the page of a read in flight
 * reports a write made before the copy: the page gets fresh content now, and a full-page segment's
 * completion overwrites it (partial segments are still torn).
 */
import { IoDir, Op, type EventBatch } from '../../core/events/batch.ts';
import { EventError } from '../../core/errors.ts';
import { SECTORS_PER_PAGE, type GuestGeometry } from '../../core/ports.ts';
import { SeedSource } from '../content/seeds.ts';
import { SymbolicDisk, type FrozenDisk } from '../content/symbolic-disk.ts';

interface Flight {
  readonly dir: number;
  readonly disk: SymbolicDisk;
  readonly sector: number;
  readonly count: number;
  readonly pfn: readonly number[];
  readonly first: readonly number[];
  readonly last: readonly number[];
  /** Its outcome is undefined: completion tears instead of copying. */
  torn: boolean;
  /** Pages the guest wrote while it flew: only their segments are undefined. */
  readonly written: Set<number>;
  /** The log-dirty epoch it was submitted in. */
  readonly epoch: number;
}

const SPP = SECTORS_PER_PAGE;

/** The header meta key that says a trace's reads land at their completion event. */
export const READS_LAND_AT_COMPLETION = 'readsLandAtCompletion';

/** Whether a trace's header meta says its reads land at completion (absent or not `true`: no). */
export function readsLandAtCompletion(meta: Readonly<Record<string, unknown>>): boolean {
  return meta[READS_LAND_AT_COMPLETION] === true;
}

export interface ReplayWorldOptions {
  /**
   * A read's data lands at its completion event, so no `dirty` record can fall between the copy and
   * the completion: a page a `dirty` record names while a read into it flies was written before the
   * copy, which overwrites a full-page segment. Default false: the guest write may have come during
   * the flight, and the segment is torn.
   */
  readonly readsLandAtCompletion?: boolean;
}

export class ReplayWorld {
  /** One seed per memory sector: page p is seeds[p*8 .. p*8+7]. */
  readonly memory: Float64Array;
  readonly disks = new Map<number, SymbolicDisk>();
  readonly pageCount: number;
  private readonly seeds = new SeedSource();
  private readonly flights = new Map<number, Flight>();
  /** pfn -> number of in-flight requests using it; lets memory writes skip the scan when 0. */
  private readonly busy = new Map<number, number>();
  /** Log-dirty epoch: the number of `dirty` records applied so far. */
  private epoch = 0;
  /**
   * Per page: 1 + the last epoch in which the trace's own I/O accounts for a dirty bit on it (a read
   * filled it; a write submitted and completed in that epoch took it), else 0.
   */
  private readonly accounted: Uint32Array;

  readonly readsLandAtCompletion: boolean;

  constructor(
    readonly geometry: GuestGeometry,
    opts: ReplayWorldOptions = {},
  ) {
    this.readsLandAtCompletion = opts.readsLandAtCompletion === true;
    this.pageCount = geometry.pageCount;
    this.memory = new Float64Array(geometry.pageCount * SPP);
    this.accounted = new Uint32Array(geometry.pageCount);
    geometry.disks.forEach((d, k) => this.disks.set(d.id, new SymbolicDisk(k, d.sectors)));
  }

  get inflight(): number {
    return this.flights.size;
  }

  /** Applies every event of `batch` in order. */
  apply(b: EventBatch): void {
    for (let i = 0; i < b.length; i++) {
      const from = b.argStart[i]!;
      const to = b.argStart[i + 1]!;
      switch (b.op[i]) {
        case Op.Submit:
          this.submit(b, i, from, to);
          break;
        case Op.Complete:
          this.complete(b.id[i]!, b.dir[i] === 1);
          break;
        case Op.MemWrite:
        case Op.Release:
          // A release loses the content: it is new, like a written page's.
          for (let k = from; k < to; k++) this.cpuWrite(b.pfn[k]!);
          break;
        case Op.Dirty:
          this.dirty(b, from, to);
          break;
        case Op.Checkpoint:
          this.tearInflight();
          break;
      }
    }
  }

  /** Seeds of page `pfn` (a view). */
  page(pfn: number): Float64Array {
    return this.memory.subarray(pfn * SPP, pfn * SPP + SPP);
  }

  /** Frozen copies of every disk, by disk id. */
  snapshotDisks(): Map<number, FrozenDisk> {
    const out = new Map<number, FrozenDisk>();
    for (const [id, d] of this.disks) out.set(id, d.snapshot());
    return out;
  }

  private submit(b: EventBatch, i: number, from: number, to: number): void {
    const id = b.id[i]!;
    const disk = this.disks.get(b.disk[i]!);
    if (!disk) throw new EventError(`request ${id}: unknown disk ${b.disk[i]}`);
    if (this.flights.has(id)) throw new EventError(`request ${id} submitted while already in flight`);
    const f: Flight = {
      dir: b.dir[i]!,
      disk,
      sector: b.sector[i]!,
      count: b.count[i]!,
      pfn: column(b.pfn, from, to),
      first: column(b.first, from, to),
      last: column(b.last, from, to),
      torn: false,
      written: new Set(),
      epoch: this.epoch,
    };
    if (f.sector + f.count > disk.sectors)
      throw new EventError(`request ${id}: beyond the end of disk ${b.disk[i]}`);
    for (const pfn of f.pfn)
      if (pfn >= this.pageCount) throw new EventError(`request ${id}: page ${pfn} outside the guest`);
    if (f.dir === IoDir.Read && new Set(f.pfn).size !== f.pfn.length) f.torn = true;
    for (const g of this.flights.values()) {
      if (races(f, g)) f.torn = g.torn = true;
    }
    this.flights.set(id, f);
    for (const pfn of f.pfn) this.busy.set(pfn, (this.busy.get(pfn) ?? 0) + 1);
  }

  private complete(id: number, ok: boolean): void {
    const f = this.flights.get(id);
    if (!f) throw new EventError(`completion of request ${id}, which is not in flight`);
    this.flights.delete(id);
    for (const pfn of f.pfn) {
      const n = this.busy.get(pfn)! - 1;
      if (n > 0) this.busy.set(pfn, n);
      else this.busy.delete(pfn);
    }
    this.account(f);
    if (f.dir === IoDir.Discard || !ok || f.torn) {
      this.tear(f);
      return;
    }
    let s = f.sector;
    for (let k = 0; k < f.pfn.length; k++) {
      const base = f.pfn[k]! * SPP;
      const torn = f.written.has(f.pfn[k]!);
      for (let j = f.first[k]!; j <= f.last[k]!; j++, s++) {
        if (f.dir === IoDir.Read) this.memory[base + j] = torn ? this.seeds.fresh() : f.disk.get(s);
        else f.disk.set(s, torn ? this.seeds.fresh() : this.memory[base + j]!);
      }
    }
  }

  /** What an undefined outcome leaves: read targets and written sectors hold content nobody had. */
  private tear(f: Flight): void {
    if (f.dir === IoDir.Read) {
      for (let k = 0; k < f.pfn.length; k++) {
        const base = f.pfn[k]! * SPP;
        for (let j = f.first[k]!; j <= f.last[k]!; j++) this.memory[base + j] = this.seeds.fresh();
      }
    } else {
      for (let s = f.sector; s < f.sector + f.count; s++) f.disk.set(s, this.seeds.fresh());
    }
  }

  /**
   * A log-dirty epoch ends: every page named was written at some moment of the epoch. Where the trace
   * shows that write (the backend's own grant copy into the page, or the guest's write of a page it
   * then wrote out in the same epoch), the page already holds what it wrote, and the record says
   * nothing more. Any other named page was written by the guest at an unknown moment: fresh content,
   * undefined for the requests in flight on it, except, when reads land at completion, for a read's
   * full-page segment on it: the write came before the copy, which the completion overwrites it with.
   */
  private dirty(b: EventBatch, from: number, to: number): void {
    const stamp = this.epoch + 1;
    for (let k = from; k < to; k++) {
      const pfn = b.pfn[k]!;
      if (pfn >= this.pageCount) throw new EventError(`page ${pfn} outside the guest`);
      if (this.accounted[pfn] !== stamp) this.cpuWrite(pfn, this.readsLandAtCompletion);
    }
    this.epoch++;
  }

  /**
   * Marks the pages a completing request accounts for in the current epoch's dirty bits. A read's
   * targets: the backend copies the data right before it reports the completion, and Xen marks the
   * copy's destination dirty. A write's sources only if it was submitted in this epoch too: the guest
   * wrote the page before submitting it, and that write is in this epoch only if the submit is.
   */
  private account(f: Flight): void {
    if (f.dir === IoDir.Write && f.epoch !== this.epoch) return;
    const stamp = this.epoch + 1;
    for (const pfn of f.pfn) this.accounted[pfn] = stamp;
  }

  /**
   * The guest writes page `pfn`: fresh content, and undefined for the requests in flight on it. With
   * `beforeReadCopies`, reads in flight whose full-page segment names the page are left alone: their
   * copy comes after this write and replaces the whole page.
   */
  private cpuWrite(pfn: number, beforeReadCopies = false): void {
    if (pfn >= this.pageCount) throw new EventError(`page ${pfn} outside the guest`);
    this.seeds.fill(this.memory, pfn * SPP, SPP);
    if (!this.busy.has(pfn)) return;
    for (const f of this.flights.values()) {
      if (!f.pfn.includes(pfn)) continue;
      if (beforeReadCopies && f.dir === IoDir.Read && fillsPage(f, pfn)) continue;
      f.written.add(pfn);
    }
  }

  /**
   * At a checkpoint, in-flight requests have done an unknown part of their work: their targets are
   * undefined in what the checkpoint sees. The requests themselves go on and complete normally
   * afterwards (a paused guest does not touch them, and a restored one resubmits them).
   */
  private tearInflight(): void {
    for (const f of this.flights.values()) this.tear(f);
  }
}

/** A plain array copy: tiny typed-array copies per request cost far more to allocate and collect. */
function column(col: Uint32Array | Uint8Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let k = from; k < to; k++) out.push(col[k]!);
  return out;
}

/** Whether read `f` has a full-page segment on `pfn` (then it is its only segment there). */
function fillsPage(f: Flight, pfn: number): boolean {
  for (let k = 0; k < f.pfn.length; k++)
    if (f.pfn[k] === pfn && f.first[k] === 0 && f.last[k] === SPP - 1) return true;
  return false;
}

/** Undefined order of effects: disk overlap with a writer, or a shared page that one of them fills. */
function races(a: Flight, b: Flight): boolean {
  if (a.disk === b.disk && a.sector < b.sector + b.count && b.sector < a.sector + a.count) {
    if (a.dir !== IoDir.Read || b.dir !== IoDir.Read) return true;
  }
  if (a.dir !== IoDir.Read && b.dir !== IoDir.Read) return false;
  for (const p of a.pfn) if (b.pfn.includes(p)) return true;
  return false;
}
