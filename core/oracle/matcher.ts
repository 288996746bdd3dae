/**
 * The oracle: which guest pages hold exactly the content of some 4 KiB disk range (at 512 B
 * granularity) at a given moment, found by exhaustive matching rather than by watching I/O. It bounds
 * what any disk-based scheme can leave out of an image, so a tracker's share of it is its capture.
 *
 * Content is seen through sector keys: one safe integer per 512 B sector, equal for equal bytes, and 0
 * exactly for an all-zero sector. Symbolic content uses its seeds as keys; real bytes use a hash and
 * confirm candidates byte for byte (see byte-keys.ts). Cost: O(pages) typed arrays for an index of the
 * pages, then one streaming pass over each disk's keys with a table lookup per sector.
 */
import { SECTORS_PER_PAGE } from '../ports.ts';

export interface DiskKeys {
  readonly id: number;
  /** Disk sector that this view's sector 0 stands for: a view may cover a part of a disk. */
  readonly first?: number;
  readonly sectors: number;
  /** Keys of sectors [sector, sector+count) into dst[0..count). */
  read(sector: number, count: number, dst: Float64Array): void | Promise<void>;
}

export interface OracleInput {
  /** Sector keys of guest memory: page p is keys[p*8 .. p*8+7]. */
  readonly pageKeys: Float64Array;
  readonly disks: readonly DiskKeys[];
  /** For hashed keys: true only if page pfn really equals the 8 sectors at (disk, sector). */
  readonly confirm?: (pfn: number, disk: number, sector: number) => boolean | Promise<boolean>;
}

export interface OracleResult {
  readonly pages: number;
  /** All-zero pages (left to zero elision, never counted as disk matches). */
  readonly zeroPages: number;
  /** Runs of consecutive zero pages: the ZERO extents an image of them would hold. */
  readonly zeroExtents: number;
  /** Non-zero pages equal to some disk range. */
  readonly matchedPages: number;
  /** Per page: 1 if all zero, 2 if disk-matched, 0 otherwise. */
  readonly kind: Uint8Array;
  /** Per page: where a match was found (disk id, first sector), -1 if none. */
  readonly disk: Int32Array;
  readonly sector: Float64Array;
}

export const PAGE_OTHER = 0;
export const PAGE_ZERO = 1;
export const PAGE_MATCHED = 2;

const SPP = SECTORS_PER_PAGE;
const CHUNK = 1 << 16;

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Hash of a safe integer key: its low 32 bits (ToInt32 is exact modulo 2^32 for any integer), mixed.
 * Keys differing only above bit 32 share a slot chain, which stays correct, only slower.
 */
function hashKey(k: number): number {
  return mix32(k | 0);
}

/**
 * Pages indexed by their anchor, the key of their first non-zero sector: open addressing over typed
 * arrays, each slot heading a chain of the pages sharing that anchor key.
 */
class AnchorIndex {
  readonly mask: number;
  readonly keys: Float64Array;
  readonly head: Int32Array;
  readonly next: Int32Array;
  /** Per page: index of its anchor sector within the page. */
  readonly anchor: Uint8Array;

  constructor(pageKeys: Float64Array, kind: Uint8Array) {
    const pages = kind.length;
    let size = 16;
    while (size < pages * 2) size *= 2;
    this.mask = size - 1;
    this.keys = new Float64Array(size);
    this.head = new Int32Array(size).fill(-1);
    this.next = new Int32Array(pages).fill(-1);
    this.anchor = new Uint8Array(pages);
    for (let p = pages - 1; p >= 0; p--) {
      if (kind[p] === PAGE_ZERO) continue;
      let j = 0;
      while (pageKeys[p * SPP + j] === 0) j++;
      this.anchor[p] = j;
      const k = pageKeys[p * SPP + j]!;
      let slot = hashKey(k) & this.mask;
      while (this.head[slot] !== -1 && this.keys[slot] !== k) slot = (slot + 1) & this.mask;
      this.keys[slot] = k;
      this.next[p] = this.head[slot]!;
      this.head[slot] = p;
    }
  }

  /** First page whose anchor key is k, or -1. */
  find(k: number): number {
    let slot = hashKey(k) & this.mask;
    for (;;) {
      const h = this.head[slot]!;
      if (h === -1) return -1;
      if (this.keys[slot] === k) return h;
      slot = (slot + 1) & this.mask;
    }
  }
}

interface Candidates {
  n: number;
  pfn: Int32Array;
  at: Float64Array;
}

/**
 * Sector-by-sector over one window of disk keys (buf holds sectors [from, to)): every page whose 8
 * keys equal 8 consecutive disk keys is a candidate, at most once per page and window. Synchronous
 * and allocation-free: this loop runs once per disk sector.
 */
function scanChunk(
  buf: Float64Array,
  from: number,
  to: number,
  first: number,
  count: number,
  pageKeys: Float64Array,
  index: AnchorIndex,
  kind: Uint8Array,
  out: Candidates,
): void {
  out.n = 0;
  const len = to - from;
  for (let i = first; i < first + count; i++) {
    const k = buf[i]!;
    if (k === 0) continue;
    for (let p = index.find(k); p !== -1; p = index.next[p]!) {
      if (kind[p] === PAGE_MATCHED) continue;
      const start = i - index.anchor[p]!;
      if (start < 0 || start + SPP > len) continue;
      let same = true;
      for (let j = 0; j < SPP && same; j++) same = buf[start + j] === pageKeys[p * SPP + j];
      if (!same) continue;
      if (out.n === out.pfn.length) {
        const pfn = new Int32Array(out.n * 2);
        const at = new Float64Array(out.n * 2);
        pfn.set(out.pfn);
        at.set(out.at);
        out.pfn = pfn;
        out.at = at;
      }
      out.pfn[out.n] = p;
      out.at[out.n++] = from + start;
    }
  }
}

export async function matchPagesToDisks(input: OracleInput): Promise<OracleResult> {
  const { pageKeys, disks, confirm } = input;
  if (pageKeys.length % SPP !== 0) throw new RangeError('pageKeys must hold 8 keys per page');
  const pages = pageKeys.length / SPP;
  const kind = new Uint8Array(pages);
  let zeroPages = 0;
  let zeroExtents = 0;
  for (let p = 0; p < pages; p++) {
    let zero = true;
    for (let j = 0; j < SPP && zero; j++) zero = pageKeys[p * SPP + j] === 0;
    if (!zero) continue;
    kind[p] = PAGE_ZERO;
    zeroPages++;
    if (p === 0 || kind[p - 1] !== PAGE_ZERO) zeroExtents++;
  }
  const index = new AnchorIndex(pageKeys, kind);
  const disk = new Int32Array(pages).fill(-1);
  const sector = new Float64Array(pages).fill(-1);
  let matchedPages = 0;
  // A window of keys with SPP - 1 sectors of context either side, so a match may straddle chunks.
  const buf = new Float64Array(CHUNK + 2 * SPP);
  const found: Candidates = { n: 0, pfn: new Int32Array(1024), at: new Float64Array(1024) };
  for (const d of disks) {
    for (let s0 = 0; s0 < d.sectors; s0 += CHUNK) {
      const from = Math.max(0, s0 - (SPP - 1));
      const to = Math.min(d.sectors, s0 + CHUNK + SPP - 1);
      await d.read(from, to - from, buf);
      scanChunk(buf, from, to, s0 - from, Math.min(CHUNK, d.sectors - s0), pageKeys, index, kind, found);
      for (let c = 0; c < found.n; c++) {
        const p = found.pfn[c]!;
        const at = (d.first ?? 0) + found.at[c]!;
        if (kind[p] === PAGE_MATCHED) continue;
        if (confirm && !(await confirm(p, d.id, at))) continue;
        kind[p] = PAGE_MATCHED;
        disk[p] = d.id;
        sector[p] = at;
        matchedPages++;
      }
    }
  }
  return { pages, zeroPages, zeroExtents, matchedPages, kind, disk, sector };
}
