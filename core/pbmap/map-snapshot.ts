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
 * The same order, millions of entries in well under a second: each entry becomes one number that
 * sorts like (disk, sector, entry index), and a native Float64Array sort (no comparator calls) orders
 * them. Needs every such number below 2^53; undefined when they do not fit (or pfns are not ascending,
 * which entry order would then not stand in for).
 */
function packedOrder(pfn: Uint32Array, disk: Uint32Array, sector: Float64Array): Uint32Array | undefined {
  const n = pfn.length;
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
  if (span * n >= 2 ** 53) return undefined;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (base.get(disk[i]!)! + sector[i]!) * n + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = keys[i]! % n;
  return order;
}

export const EMPTY_SNAPSHOT: MapSnapshot = sortedSnapshot(
  new Uint32Array(0),
  new Uint32Array(0),
  new Float64Array(0),
);
