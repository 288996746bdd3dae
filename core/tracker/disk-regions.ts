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

export class DiskRegions {
  private readonly regions = new Map<number, number[]>();
  private readonly wide: number[] = [];

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
      if (list && dropFrom(list, slot) === 0) this.regions.delete(k);
    }
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
