/**
 * Requests between submit and completion, and what happened to them meanwhile: whether they overlap
 * another request in a way whose outcome is undefined (rule 7), and which of their pages the guest
 * wrote while they flew (rule 6). A race check visits the requests in the same disk regions (or all of
 * them when pages are shared); page reference counts are a typed array, since every segment of every
 * request touches one.
 */
import { IoDir } from '../events/batch.ts';
import { DiskRegions, isWide } from './disk-regions.ts';

export interface InflightRequest {
  readonly id: number;
  readonly dir: IoDir;
  /** Global sectors [start, end) the request covers. */
  readonly start: number;
  readonly end: number;
  /**
   * Segment pages and sector-in-page bounds (inclusive), in segment order. Plain arrays of small
   * integers: millions of requests pass through, and typed arrays this small cost far more to allocate
   * and collect (each has its own backing store) than V8's young-generation arrays.
   */
  readonly pfn: readonly number[];
  readonly first: readonly number[];
  readonly last: readonly number[];
  /** Tracker sequence number at submit: a memory write to a page after this taints the page. */
  readonly submitSeq: number;
  /** Overlaps another in-flight request with an undefined outcome: completion maps nothing. */
  conflicted: boolean;
}

export class InflightTable {
  private readonly byId = new Map<number, InflightRequest>();
  /** pfn -> number of in-flight requests that use it. */
  private readonly pageRefs: Uint32Array;
  /** Pages with pageRefs > 0. */
  private busyPages = 0;
  /** pfn -> sequence number of the latest memory write to it while some request used it. */
  private readonly lastWrite = new Map<number, number>();
  private readonly regions = new DiskRegions<InflightRequest>();
  /** Scratch list of race candidates. */
  private readonly candidates: InflightRequest[] = [];

  constructor(pageCount: number) {
    this.pageRefs = new Uint32Array(pageCount);
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  get(id: number): InflightRequest | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<InflightRequest> {
    return this.byId.values();
  }

  /** Adds `req`, marking it and every in-flight request it races with as conflicted. */
  add(req: InflightRequest): void {
    const sharesPages = this.usesAnyPage(req.pfn);
    if (sharesPages || isWide(req)) {
      for (const other of this.byId.values()) this.checkRace(req, other, sharesPages);
    } else {
      // No shared page: only a disk overlap can race, and overlapping requests share a region.
      const n = this.regions.near(req, this.candidates);
      for (let k = 0; k < n; k++) this.checkRace(req, this.candidates[k]!, false);
    }
    this.byId.set(req.id, req);
    this.regions.add(req);
    // Counting references also finds a page listed twice, when no other request held any of them.
    const refs = this.pageRefs;
    let repeats = false;
    for (let k = 0; k < req.pfn.length; k++) {
      if (refs[req.pfn[k]!]!++ === 0) this.busyPages++;
      else repeats = true;
    }
    if (req.dir === IoDir.Read && (sharesPages ? hasDuplicate(req.pfn) : repeats)) req.conflicted = true;
  }

  /** Removes and returns request `id`. */
  remove(id: number): InflightRequest | undefined {
    const req = this.byId.get(id);
    if (!req) return undefined;
    this.byId.delete(id);
    this.regions.remove(req);
    const refs = this.pageRefs;
    for (let k = 0; k < req.pfn.length; k++) {
      const pfn = req.pfn[k]!;
      if (--refs[pfn]! === 0) {
        this.busyPages--;
        if (this.lastWrite.size > 0) this.lastWrite.delete(pfn);
      }
    }
    return req;
  }

  /** Records that the guest wrote page `pfn` at sequence `seq` (only matters while it is in flight). */
  noteMemWrite(pfn: number, seq: number): void {
    if (this.pageRefs[pfn]! > 0) this.lastWrite.set(pfn, seq);
  }

  /** Whether the guest wrote `pfn` after `req` was submitted. */
  isTainted(req: InflightRequest, pfn: number): boolean {
    if (this.lastWrite.size === 0) return false;
    const w = this.lastWrite.get(pfn);
    return w !== undefined && w > req.submitSeq;
  }

  private checkRace(req: InflightRequest, other: InflightRequest, checkPages: boolean): void {
    if (racesWith(req, other, checkPages)) {
      req.conflicted = true;
      other.conflicted = true;
    }
  }

  private usesAnyPage(pfns: readonly number[]): boolean {
    if (this.busyPages === 0) return false;
    for (let k = 0; k < pfns.length; k++) if (this.pageRefs[pfns[k]!]! > 0) return true;
    return false;
  }
}

/**
 * Two in-flight requests race when the order of their data transfers is undefined and matters: they
 * overlap on disk and one of them changes the disk, or they share a page and one of them DMAs into it.
 */
function racesWith(a: InflightRequest, b: InflightRequest, checkPages: boolean): boolean {
  const changesDisk = a.dir !== IoDir.Read || b.dir !== IoDir.Read;
  if (changesDisk && a.start < b.end && b.start < a.end) return true;
  if (!checkPages || (a.dir !== IoDir.Read && b.dir !== IoDir.Read)) return false;
  for (const p of a.pfn) for (const q of b.pfn) if (p === q) return true;
  return false;
}

function hasDuplicate(pfns: readonly number[]): boolean {
  for (let i = 1; i < pfns.length; i++) for (let j = 0; j < i; j++) if (pfns[i] === pfns[j]) return true;
  return false;
}
