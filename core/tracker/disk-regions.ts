/**
 * In-flight requests (by slot) in the 1 MiB regions of global sector space they touch, so that
 * checking a new request for disk overlap (rule 7) visits its neighbours instead of every request in
 * flight: a deep ring keeps hundreds in flight. Requests wider than a few regions (large discards) sit
 * in one list that every check visits, and a wide new request is checked against everything by the
 * caller.
 */
const REGION_SECTORS = 2048;
const WIDE_REGIONS = 16;
/** Exact (a power of two), and cheaper than dividing. */
const PER_REGION = 1 / REGION_SECTORS;

function firstRegion(start: number): number {
  return Math.floor(start * PER_REGION);
}

function lastRegion(start: number, end: number): number {
  return Math.floor((Math.max(end, start + 1) - 1) * PER_REGION);
}

/** Whether sectors [start, end) span so many regions that the request is kept (and checked) apart. */
export function isWide(start: number, end: number): boolean {
  return lastRegion(start, end) - firstRegion(start) >= WIDE_REGIONS;
}

/** Empty region lists kept before they are swept: requests come and go in the same few regions. */
const EMPTY_KEPT = 1024;

export class DiskRegions {
  private readonly regions = new Map<number, number[]>();
  private readonly wide: number[] = [];
  /** Lists emptied since the last sweep (some may have been refilled since). */
  private emptied = 0;

  /** Region lists held, empty ones included (bounded: see sweep()). */
  get lists(): number {
    return this.regions.size;
  }

  add(slot: number, start: number, end: number): void {
    if (isWide(start, end)) {
      this.wide.push(slot);
      return;
    }
    for (let k = firstRegion(start); k <= lastRegion(start, end); k++) {
      const list = this.regions.get(k);
      if (list) list.push(slot);
      else this.regions.set(k, [slot]);
    }
  }

  /** Removes `slot`, added with the same `start` and `end`. */
  remove(slot: number, start: number, end: number): void {
    if (isWide(start, end)) {
      dropFrom(this.wide, slot);
      return;
    }
    for (let k = firstRegion(start); k <= lastRegion(start, end); k++) {
      const list = this.regions.get(k);
      // An emptied list stays for the next request in its region (deleting and re-creating lists on
      // every request cost more than the race checks they serve) until enough pile up to sweep them.
      if (list && dropFrom(list, slot) === 0 && ++this.emptied > EMPTY_KEPT) this.sweep();
    }
  }

  /** Drops the empty lists, so memory follows the requests in flight, not every region ever used. */
  private sweep(): void {
    for (const [k, list] of this.regions) if (list.length === 0) this.regions.delete(k);
    this.emptied = 0;
  }

  /**
   * Fills `out` with every slot that may overlap [start, end) on disk (a slot may appear twice) and
   * returns how many; the range must not be wide.
   */
  near(start: number, end: number, out: number[]): number {
    let n = 0;
    for (let k = firstRegion(start); k <= lastRegion(start, end); k++) {
      const list = this.regions.get(k);
      if (list) for (let i = 0; i < list.length; i++) out[n++] = list[i]!;
    }
    for (let i = 0; i < this.wide.length; i++) out[n++] = this.wide[i]!;
    return n;
  }
}

/** Removes `slot` from `list` (order does not matter); returns the new length. */
function dropFrom(list: number[], slot: number): number {
  const i = list.indexOf(slot);
  if (i >= 0) {
    list[i] = list[list.length - 1]!;
    list.pop();
  }
  return list.length;
}
