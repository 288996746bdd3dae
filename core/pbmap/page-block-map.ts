/**
 * The page-to-block map: pfn -> global sector g, meaning "the 4 KiB content of page pfn equals the 8
 * sectors g..g+7". Forward: one Float64 per page (-1 = unmapped) plus an optional 64-bit content hash
 * (hash revalidation): 16 bytes per page at most.
 *
 * Reverse index: pages are kept in intrusive doubly linked lists (Int32 next/prev per page) hanging off
 * a bucket array (Int32 head per bucket, as many buckets as the power of two >= the page count), keyed
 * by the 4 KiB slot floor(g / 8) their mapping starts in. Consecutive slots go to consecutive buckets,
 * so a range query walks adjacent memory; each block of `buckets` slots is shifted by a hash of its
 * number so that slots one block apart (another disk, a far region) do not pile up in one list. At
 * most one page per bucket on average, a fixed 12 bytes per page, and no hashing, probing, resizing or
 * deletion on the hot path: a map or unmap is a few typed-array stores.
 *
 * A mapping covering any sector in [a, b) starts in [a - 7, b), so overlap queries visit only the
 * buckets of that range (or every page when that is smaller) and check each page they find.
 */
import { SECTORS_PER_PAGE } from '../ports.ts';

const NONE = -1;
const SPP = SECTORS_PER_PAGE;
/** 1 / SPP, exact (a power of two): slot = floor(g * PER_SECTOR_SLOT) without a division. */
const PER_SECTOR_SLOT = 1 / SPP;

export class PageBlockMap {
  readonly pageCount: number;
  /** Global start sector per page, or -1. */
  readonly loc: Float64Array;
  /** Content hash per page, when hash revalidation is on. */
  readonly hash: BigUint64Array | undefined;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly heads: Int32Array;
  private readonly buckets: number;
  private readonly mask: number;
  /** 1 / buckets: a power of two, so multiplying by it is exact and cheaper than dividing. */
  private readonly perBucket: number;
  private mapped = 0;

  constructor(pageCount: number, opts: { withHashes: boolean }) {
    this.pageCount = pageCount;
    this.loc = new Float64Array(pageCount).fill(NONE);
    this.hash = opts.withHashes ? new BigUint64Array(pageCount) : undefined;
    this.next = new Int32Array(pageCount);
    this.prev = new Int32Array(pageCount);
    let buckets = 16;
    while (buckets < pageCount) buckets *= 2;
    this.buckets = buckets;
    this.mask = buckets - 1;
    this.perBucket = 1 / buckets;
    this.heads = new Int32Array(buckets).fill(NONE);
  }

  get size(): number {
    return this.mapped;
  }

  /** Bytes held by the forward arrays, and by the reverse index (lists + buckets). */
  get byteLength(): { forward: number; reverse: number } {
    return {
      forward: this.loc.byteLength + (this.hash?.byteLength ?? 0),
      reverse: this.next.byteLength + this.prev.byteLength + this.heads.byteLength,
    };
  }

  isMapped(pfn: number): boolean {
    return this.loc[pfn]! >= 0;
  }

  /** Maps `pfn` to the 8 sectors from global sector `g`, replacing any mapping it had. */
  map(pfn: number, g: number, hash = 0n): void {
    if (this.loc[pfn]! >= 0) this.unlink(pfn);
    else this.mapped++;
    this.loc[pfn] = g;
    if (this.hash) this.hash[pfn] = hash;
    const bucket = this.bucketOf(Math.floor(g * PER_SECTOR_SLOT));
    const head = this.heads[bucket]!;
    this.prev[pfn] = NONE;
    this.next[pfn] = head;
    if (head !== NONE) this.prev[head] = pfn;
    this.heads[bucket] = pfn;
  }

  /** Removes `pfn`'s mapping, if any. */
  unmap(pfn: number): void {
    if (this.loc[pfn]! < 0) return;
    this.unlink(pfn);
    this.loc[pfn] = NONE;
    this.mapped--;
  }

  /** Calls `fn` for every page whose mapping overlaps global sectors [start, end). `fn` may unmap it. */
  forEachOverlapping(start: number, end: number, fn: (pfn: number) => void): void {
    if (end <= start || this.mapped === 0) return;
    const firstSlot = Math.floor((start - (SPP - 1)) / SPP);
    const lastSlot = Math.floor((end - 1) / SPP);
    if (lastSlot - firstSlot + 1 > this.buckets) {
      // A huge range (a whole-disk discard): scanning every page beats visiting buckets twice over.
      for (let pfn = 0; pfn < this.pageCount; pfn++) {
        const g = this.loc[pfn]!;
        if (g >= 0 && g + SPP > start && g < end) fn(pfn);
      }
      return;
    }
    const { heads, next, loc } = this;
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      for (let pfn = heads[this.bucketOf(slot)]!; pfn !== NONE;) {
        const after = next[pfn]!;
        const g = loc[pfn]!;
        // A bucket also holds pages of slots one block away: each page is visited for its own slot only.
        if (g + SPP > start && g < end && Math.floor(g * PER_SECTOR_SLOT) === slot) fn(pfn);
        pfn = after;
      }
    }
  }

  /** Unmaps every page whose mapping overlaps [start, end), except `keep`; returns how many. */
  unmapOverlapping(start: number, end: number, keep = NONE): number {
    let killed = 0;
    this.forEachOverlapping(start, end, (pfn) => {
      if (pfn === keep) return;
      this.unmap(pfn);
      killed++;
    });
    return killed;
  }

  /** Slot s of block b = floor(s / buckets) goes to bucket (s + hash(b)) mod buckets. */
  private bucketOf(slot: number): number {
    const block = Math.floor(slot * this.perBucket);
    return (slot + Math.imul(block, 0x9e3779b1)) & this.mask;
  }

  private unlink(pfn: number): void {
    const p = this.prev[pfn]!;
    const n = this.next[pfn]!;
    if (n !== NONE) this.prev[n] = p;
    if (p !== NONE) this.next[p] = n;
    else this.heads[this.bucketOf(Math.floor(this.loc[pfn]! * PER_SECTOR_SLOT))] = n;
  }
}
