/**
 * The page-to-block map as frozen at a checkpoint barrier: only the mappings that may go into an image
 * (rule 9 already applied), sorted by (disk, sector, pfn) so a restore reads the disk in order.
 * Columnar, like everything that can hold millions of entries.
 */
export interface MapSnapshot {
  readonly length: number;
  readonly pfn: Uint32Array;
  readonly disk: Uint32Array;
  /** First of the 8 sectors that hold page pfn's content. */
  readonly sector: Float64Array;
}

/** Digits of the radix sort: 16 bits. */
const RADIX = 65536;
/** Below this many entries a comparison sort is cheaper than clearing the radix counts. */
const RADIX_MIN_ENTRIES = 4096;

/** Builds a sorted snapshot from unsorted columns (copies; the inputs are left alone). */
export function sortedSnapshot(pfn: Uint32Array, disk: Uint32Array, sector: Float64Array): MapSnapshot {
  const n = pfn.length;
  const order = packedOrder(pfn, disk, sector) ?? comparedOrder(pfn, disk, sector);
  const out = { length: n, pfn: new Uint32Array(n), disk: new Uint32Array(n), sector: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const k = order[i]!;
    out.pfn[i] = pfn[k]!;
    out.disk[i] = disk[k]!;
    out.sector[i] = sector[k]!;
  }
  return out;
}

function comparedOrder(pfn: Uint32Array, disk: Uint32Array, sector: Float64Array): Uint32Array {
  const order = new Uint32Array(pfn.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => disk[a]! - disk[b]! || sector[a]! - sector[b]! || pfn[a]! - pfn[b]!);
}

/**
 * The same order, millions of entries in tens of milliseconds: each entry's (disk, sector) becomes one
 * integer below 2^53 that sorts like it, and a stable radix sort (16 bits a pass, passes whose digit
 * is the same for every entry skipped) orders the entries by it; ties keep entry order, which is pfn
 * order when pfns are ascending. Undefined when the integers do not fit, pfns are not ascending, or
 * the entries are too few to be worth it.
 */
function packedOrder(pfn: Uint32Array, disk: Uint32Array, sector: Float64Array): Uint32Array | undefined {
  const n = pfn.length;
  if (n < RADIX_MIN_ENTRIES) return undefined;
  for (let i = 1; i < n; i++) if (pfn[i]! <= pfn[i - 1]!) return undefined;
  // Disks by id, each given the sector range up to its largest sector plus one.
  const top = new Map<number, number>();
  for (let i = 0; i < n; i++) top.set(disk[i]!, Math.max(top.get(disk[i]!) ?? 0, sector[i]! + 1));
  const base = new Map<number, number>();
  let span = 0;
  for (const id of [...top.keys()].sort((a, b) => a - b)) {
    base.set(id, span);
    span += top.get(id)!;
  }
  if (span >= 2 ** 53) return undefined;
  // The key in two 32-bit halves, so that every digit is an integer operation.
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const key = base.get(disk[i]!)! + sector[i]!;
    hi[i] = Math.floor(key / 2 ** 32);
    lo[i] = key - hi[i]! * 2 ** 32;
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let spare = new Uint32Array(n);
  const count = new Uint32Array(RADIX);
  for (const [half, shift] of [
    [lo, 0],
    [lo, 16],
    [hi, 0],
    [hi, 16],
  ] as const) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(half[i]! >>> shift) & (RADIX - 1)]!++;
    // Every entry has the same digit here: the pass would change nothing.
    if (count[(half[0]! >>> shift) & (RADIX - 1)] === n) continue;
    for (let d = 0, at = 0; d < RADIX; d++) {
      const c = count[d]!;
      count[d] = at;
      at += c;
    }
    for (let i = 0; i < n; i++) {
      const k = order[i]!;
      spare[count[(half[k]! >>> shift) & (RADIX - 1)]!++] = k;
    }
    [order, spare] = [spare, order];
  }
  return order;
}

export const EMPTY_SNAPSHOT: MapSnapshot = sortedSnapshot(
  new Uint32Array(0),
  new Uint32Array(0),
  new Float64Array(0),
);
