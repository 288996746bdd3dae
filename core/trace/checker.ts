/**
 * The checks every trace event goes through, shared by both readers and by the writers: geometry
 * (pages, disks, sector ranges), segment shape, and the requests in flight. Each check throws a Fault
 * naming what is wrong; the caller adds where (line, record or event).
 */
import { fault } from './errors.ts';
import type { TraceHeader } from './header.ts';

/** Largest request id a trace may use: ids are exact in a double up to here. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Largest timestamp, in nanoseconds. */
export const MAX_T = Number.MAX_SAFE_INTEGER;
/** A UTF-16 surrogate without its pair: not representable in UTF-8, so not in a trace. */
export const LONE_SURROGATE = /\p{Cs}/u;
/** Segments of a request beyond which the overlap check uses a map instead of comparing pairs. */
const PAIRWISE_MAX = 24;

export class TraceChecker {
  readonly pages: number;
  private readonly sectorsOf = new Map<number, number>();
  private readonly diskNames: string;
  /** Request id -> the line, record or event that submitted it. */
  private readonly inflight = new Map<number, number>();

  constructor(
    header: TraceHeader,
    /** How the caller counts positions, for "submitted on line 12". */
    private readonly unit: 'line' | 'record' | 'event',
  ) {
    this.pages = header.pages;
    for (const d of header.disks) this.sectorsOf.set(d.id, d.sectors);
    this.diskNames = header.disks.length === 0 ? 'none' : header.disks.map((d) => d.id).join(', ');
  }

  /** Requests submitted and not yet completed. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** The ids in flight, in submission order. */
  inFlightIds(): number[] {
    return [...this.inflight.keys()];
  }

  page(pfn: number, what: string): void {
    if (pfn >= this.pages) fault(`${what}page ${pfn} outside the guest's 0..${this.pages - 1}`);
  }

  /** Disk `disk` exists and sectors `sector .. sector+count-1` lie on it. */
  range(disk: number, sector: number, count: number): void {
    const size = this.sectorsOf.get(disk);
    if (size === undefined) fault(`unknown disk ${disk} (the header declares disks: ${this.diskNames})`);
    if (sector + count > size) {
      fault(`sectors ${sector}..${sector + count - 1} lie beyond disk ${disk}'s ${size} sectors`);
    }
  }

  /**
   * Segments `from..to` of a read or write request: at least one, each `0 <= first <= last <= 7` on a
   * page of the guest; in a read, no two naming overlapping sectors of one page (which bytes would
   * land there is undefined). A write may name the same bytes twice: Linux's blkfront sends such
   * writes, and they are well defined. Returns the sectors covered.
   */
  segments(
    dir: 'read' | 'write',
    pfn: ArrayLike<number>,
    first: ArrayLike<number>,
    last: ArrayLike<number>,
    from: number,
    to: number,
  ): number {
    if (to === from) fault(`a ${dir} with no segments`);
    let count = 0;
    for (let k = from; k < to; k++) {
      const p = pfn[k]!;
      const a = first[k]!;
      const b = last[k]!;
      if (p >= this.pages) fault(`segment ${k - from}: page ${p} outside the guest's 0..${this.pages - 1}`);
      if (a > b || b > 7) fault(`segment ${k - from} has sectors ${a}..${b}, want 0 <= first <= last <= 7`);
      count += b - a + 1;
    }
    if (dir === 'read' && to - from > 1) this.overlaps(pfn, first, last, from, to);
    return count;
  }

  private overlaps(
    pfn: ArrayLike<number>,
    first: ArrayLike<number>,
    last: ArrayLike<number>,
    from: number,
    to: number,
  ): void {
    if (to - from <= PAIRWISE_MAX) {
      for (let x = from; x < to; x++) {
        const p = pfn[x]!;
        for (let y = x + 1; y < to; y++) {
          if (pfn[y] === p && first[x]! <= last[y]! && first[y]! <= last[x]!)
            this.overlapFault(x, y, p, first, last, from);
        }
      }
      return;
    }
    const masks = new Map<number, number>(); // pfn -> sectors named so far, one bit each
    for (let x = from; x < to; x++) {
      const p = pfn[x]!;
      const mask = ((1 << (last[x]! + 1)) - 1) & ~((1 << first[x]!) - 1);
      const had = masks.get(p) ?? 0;
      if ((had & mask) !== 0) {
        for (let y = from; y < x; y++) {
          if (pfn[y] === p && first[x]! <= last[y]! && first[y]! <= last[x]!)
            this.overlapFault(y, x, p, first, last, from);
        }
      }
      masks.set(p, had | mask);
    }
  }

  private overlapFault(
    x: number,
    y: number,
    p: number,
    first: ArrayLike<number>,
    last: ArrayLike<number>,
    from: number,
  ): never {
    fault(
      `segments ${x - from} and ${y - from} overlap on page ${p} ` +
        `(sectors ${first[x]}..${last[x]} and ${first[y]}..${last[y]})`,
    );
  }

  /** Request `id` starts; `at` is where, for a later message about it. */
  submit(id: number, at: number): void {
    const was = this.inflight.get(id);
    if (was !== undefined) fault(`request ${id} is already in flight (submitted on ${this.unit} ${was})`);
    this.inflight.set(id, at);
  }

  complete(id: number): void {
    if (!this.inflight.delete(id)) fault(`request ${id} is not in flight`);
  }
}
