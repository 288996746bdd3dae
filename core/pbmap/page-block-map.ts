/**
 * The page-to-block map: pfn -> global sector g, meaning "the 4 KiB content of page pfn equals the 8
 * sectors g..g+7". Forward: one Float64 per page (-1 = unmapped) plus an optional 64-bit content hash
 * (hash revalidation): 16 bytes per page at most. Reverse index: pages are kept in doubly linked lists
 * (Int32 next/prev per page) hanging off a hash table keyed by the 4 KiB slot floor(g / 8) their mapping
 * starts in. A mapping covering any sector in [a, b) starts in [a - 7, b), so overlap queries visit
 * only the slots of that range (or the whole table when that is smaller) plus the pages found.
 */
import { SECTORS_PER_PAGE } from '../ports.ts';
import { SlotIndex } from './slot-index.ts';

const NONE = -1;
const SPP = SECTORS_PER_PAGE;

export class PageBlockMap {
  readonly pageCount: number;
  /** Global start sector per page, or -1. */
  readonly loc: Float64Array;
  /** Content hash per page, when hash revalidation is on. */
  readonly hash: BigUint64Array | undefined;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly index = new SlotIndex();
  private mapped = 0;

  constructor(pageCount: number, opts: { withHashes: boolean }) {
    this.pageCount = pageCount;
    this.loc = new Float64Array(pageCount).fill(NONE);
    this.hash = opts.withHashes ? new BigUint64Array(pageCount) : undefined;
    this.next = new Int32Array(pageCount);
    this.prev = new Int32Array(pageCount);
  }

  get size(): number {
    return this.mapped;
  }

  /** Bytes held by the forward arrays, and by the reverse index (lists + table). */
  get byteLength(): { forward: number; reverse: number } {
    return {
      forward: this.loc.byteLength + (this.hash?.byteLength ?? 0),
      reverse: this.next.byteLength + this.prev.byteLength + this.index.byteLength,
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
    const slot = Math.floor(g / SPP);
    const head = this.index.get(slot);
    this.prev[pfn] = NONE;
    this.next[pfn] = head;
    if (head !== NONE) this.prev[head] = pfn;
    this.index.set(slot, pfn);
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
    if (lastSlot - firstSlot + 1 > this.index.size * 2) {
      // A huge range (a whole-disk discard): scanning every page beats probing every slot.
      for (let pfn = 0; pfn < this.pageCount; pfn++) {
        const g = this.loc[pfn]!;
        if (g >= 0 && g + SPP > start && g < end) fn(pfn);
      }
      return;
    }
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      for (let pfn = this.index.get(slot); pfn !== NONE;) {
        const after = this.next[pfn]!;
        const g = this.loc[pfn]!;
        if (g + SPP > start && g < end) fn(pfn);
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

  private unlink(pfn: number): void {
    const p = this.prev[pfn]!;
    const n = this.next[pfn]!;
    if (n !== NONE) this.prev[n] = p;
    if (p !== NONE) this.next[p] = n;
    else {
      const slot = Math.floor(this.loc[pfn]! / SPP);
      if (n === NONE) this.index.delete(slot);
      else this.index.set(slot, n);
    }
  }
}
