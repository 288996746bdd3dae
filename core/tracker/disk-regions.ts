/**
 * In-flight requests by the 1 MiB regions of global sector space they touch, so that checking a new
 * request for disk overlap (rule 7) visits its neighbours instead of every request in flight: a deep
 * ring keeps hundreds in flight. Requests wider than a few regions (large discards) sit in one list
 * that every check visits, and a wide new request is checked against everything by the caller.
 */
const REGION_SECTORS = 2048;
const WIDE_REGIONS = 16;

interface Span {
  readonly start: number;
  readonly end: number;
}

function firstRegion(r: Span): number {
  return Math.floor(r.start / REGION_SECTORS);
}

function lastRegion(r: Span): number {
  return Math.floor((Math.max(r.end, r.start + 1) - 1) / REGION_SECTORS);
}

export function isWide(r: Span): boolean {
  return lastRegion(r) - firstRegion(r) >= WIDE_REGIONS;
}

export class DiskRegions<T extends Span> {
  private readonly regions = new Map<number, T[]>();
  private readonly wide: T[] = [];

  add(r: T): void {
    if (isWide(r)) {
      this.wide.push(r);
      return;
    }
    for (let k = firstRegion(r); k <= lastRegion(r); k++) {
      const list = this.regions.get(k);
      if (list) list.push(r);
      else this.regions.set(k, [r]);
    }
  }

  remove(r: T): void {
    if (isWide(r)) {
      dropFrom(this.wide, r);
      return;
    }
    for (let k = firstRegion(r); k <= lastRegion(r); k++) {
      const list = this.regions.get(k);
      if (list && dropFrom(list, r) === 0) this.regions.delete(k);
    }
  }

  /**
   * Fills `out` with every request that may overlap `r` on disk (a request may appear twice) and
   * returns how many; `r` must not be wide.
   */
  near(r: Span, out: T[]): number {
    let n = 0;
    for (let k = firstRegion(r); k <= lastRegion(r); k++) {
      const list = this.regions.get(k);
      if (list) for (const o of list) out[n++] = o;
    }
    for (const o of this.wide) out[n++] = o;
    return n;
  }
}

/** Removes `r` from `list` (order does not matter); returns the new length. */
function dropFrom<T>(list: T[], r: T): number {
  const i = list.indexOf(r);
  if (i >= 0) {
    list[i] = list[list.length - 1]!;
    list.pop();
  }
  return list.length;
}
