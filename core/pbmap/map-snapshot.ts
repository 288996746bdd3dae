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
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => disk[a]! - disk[b]! || sector[a]! - sector[b]! || pfn[a]! - pfn[b]!);
  const out = { length: n, pfn: new Uint32Array(n), disk: new Uint32Array(n), sector: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const k = order[i]!;
    out.pfn[i] = pfn[k]!;
    out.disk[i] = disk[k]!;
    out.sector[i] = sector[k]!;
  }
  return out;
}

export const EMPTY_SNAPSHOT: MapSnapshot = sortedSnapshot(
  new Uint32Array(0),
  new Uint32Array(0),
  new Float64Array(0),
);
