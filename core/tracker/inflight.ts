/**
 * Requests between submit and completion, and what happened to them meanwhile: whether they overlap
 * another request in a way whose outcome is undefined (rule 7), and which of their pages the guest
 * wrote while they flew (rule 6). A race check visits the requests in the same disk regions (or all of
 * them when pages are shared); page reference counts are a typed array, since every segment of every
 * request touches one.
 *
 * Millions of requests pass through, so a request is a slot in typed-array columns, not an object, and
 * its segments are not copied: the slot points at the columns of the batch that submitted it (batches
 * are immutable once emitted, see EventBatch). Freed slots are reused, so the columns stay as large as
 * the most requests ever in flight at once.
 */
import { IoDir, type EventBatch } from '../events/batch.ts';
import { DiskRegions, isWide } from './disk-regions.ts';
import { IdTable } from './id-table.ts';

/** Where a request's segments are: entries [from, to) of these columns. */
export type SegmentColumns = Pick<EventBatch, 'pfn' | 'first' | 'last'>;

/** A request to add: its segments are `segs.pfn[from..to)` (none for a discard). */
export interface NewRequest {
  readonly id: number;
  readonly dir: IoDir;
  /** Global sectors [start, end) the request covers. */
  readonly start: number;
  readonly end: number;
  readonly segs: SegmentColumns;
  readonly from: number;
  readonly to: number;
  /** Tracker sequence number at submit: a memory write to a page after this taints the page. */
  readonly submitSeq: number;
}

const NO_SEGMENTS: SegmentColumns = {
  pfn: new Uint32Array(0),
  first: new Uint8Array(0),
  last: new Uint8Array(0),
};

export class InflightTable {
  private readonly slotOfId = new IdTable();
  private readonly freeSlots: number[] = [];
  private capacity = 0;
  private ids = new Float64Array(0);
  private dirs = new Uint8Array(0);
  private starts = new Float64Array(0);
  private ends = new Float64Array(0);
  private seqs = new Float64Array(0);
  private conflicts = new Uint8Array(0);
  private froms = new Uint32Array(0);
  private tos = new Uint32Array(0);
  private segColumns: SegmentColumns[] = [];
  /** pfn -> number of in-flight requests that use it. */
  private readonly pageRefs: Uint32Array;
  /** pfn -> sequence number of the latest memory write to it while some request used it. */
  private readonly lastWrite = new Map<number, number>();
  private readonly regions = new DiskRegions();
  /** Scratch list of race candidates (slots). */
  private readonly candidates: number[] = [];

  constructor(pageCount: number) {
    this.pageRefs = new Uint32Array(pageCount);
  }

  get size(): number {
    return this.slotOfId.size;
  }

  /** The slot of request `id`, or -1 if it is not in flight. */
  slotOf(id: number): number {
    return this.slotOfId.get(id);
  }

  /** Calls `fn` with every slot in use, in no particular order. */
  forEachSlot(fn: (slot: number) => void): void {
    this.slotOfId.forEachValue(fn);
  }

  id(slot: number): number {
    return this.ids[slot]!;
  }

  dir(slot: number): IoDir {
    return this.dirs[slot]! as IoDir;
  }

  start(slot: number): number {
    return this.starts[slot]!;
  }

  end(slot: number): number {
    return this.ends[slot]!;
  }

  /** Overlaps another in-flight request with an undefined outcome: completion maps nothing. */
  conflicted(slot: number): boolean {
    return this.conflicts[slot] === 1;
  }

  /** The columns holding the slot's segments, at [segFrom, segTo). */
  segments(slot: number): SegmentColumns {
    return this.segColumns[slot]!;
  }

  segFrom(slot: number): number {
    return this.froms[slot]!;
  }

  segTo(slot: number): number {
    return this.tos[slot]!;
  }

  /**
   * Adds `req` (its id must not be in flight), marking it and every in-flight request it races with as
   * conflicted; returns its slot.
   */
  add(req: NewRequest): number {
    const slot = this.allocate();
    this.ids[slot] = req.id;
    this.dirs[slot] = req.dir;
    this.starts[slot] = req.start;
    this.ends[slot] = req.end;
    this.seqs[slot] = req.submitSeq;
    this.conflicts[slot] = 0;
    this.froms[slot] = req.from;
    this.tos[slot] = req.to;
    this.segColumns[slot] = req.segs;
    // One pass counts references and finds pages held before: by another request in flight, or listed
    // twice in this one. Either way the pages need checking (rule 7); a repeat alone finds no other
    // request sharing a page and is caught by hasDuplicate().
    const refs = this.pageRefs;
    const pfn = req.segs.pfn;
    let sharesPages = false;
    for (let k = req.from; k < req.to; k++) {
      if (refs[pfn[k]!]!++ !== 0) sharesPages = true;
    }
    if (sharesPages || isWide(req.start, req.end)) {
      this.slotOfId.forEachValue((other) => this.checkRace(slot, other, sharesPages));
      if (req.dir === IoDir.Read && sharesPages && this.hasDuplicate(slot)) this.conflicts[slot] = 1;
    } else {
      // No shared page: only a disk overlap can race, and overlapping requests share a region.
      const n = this.regions.near(req.start, req.end, this.candidates);
      for (let k = 0; k < n; k++) this.checkRace(slot, this.candidates[k]!, false);
    }
    this.slotOfId.insert(req.id, slot);
    this.regions.add(slot, req.start, req.end);
    return slot;
  }

  /** Removes the request in `slot`; the slot may be reused by the next add(). */
  remove(slot: number): void {
    this.slotOfId.delete(this.ids[slot]!);
    this.regions.remove(slot, this.starts[slot]!, this.ends[slot]!);
    const refs = this.pageRefs;
    const pfn = this.segColumns[slot]!.pfn;
    for (let k = this.froms[slot]!; k < this.tos[slot]!; k++) {
      const p = pfn[k]!;
      if (--refs[p]! === 0 && this.lastWrite.size > 0) this.lastWrite.delete(p);
    }
    // Lets the batch go once none of its requests is in flight.
    this.segColumns[slot] = NO_SEGMENTS;
    this.freeSlots.push(slot);
  }

  /** Records that the guest wrote page `pfn` at sequence `seq` (only matters while it is in flight). */
  noteMemWrite(pfn: number, seq: number): void {
    if (this.pageRefs[pfn]! > 0) this.lastWrite.set(pfn, seq);
  }

  /** Whether the guest wrote `pfn` after the request in `slot` was submitted. */
  isTainted(slot: number, pfn: number): boolean {
    if (this.lastWrite.size === 0) return false;
    const w = this.lastWrite.get(pfn);
    return w !== undefined && w > this.seqs[slot]!;
  }

  private allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.capacity;
    if (slot === this.ids.length) this.grow(Math.max(16, slot * 2));
    this.capacity++;
    return slot;
  }

  private grow(n: number): void {
    const widen = <T extends Float64Array | Uint8Array | Uint32Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    this.ids = widen(this.ids, new Float64Array(n));
    this.dirs = widen(this.dirs, new Uint8Array(n));
    this.starts = widen(this.starts, new Float64Array(n));
    this.ends = widen(this.ends, new Float64Array(n));
    this.seqs = widen(this.seqs, new Float64Array(n));
    this.conflicts = widen(this.conflicts, new Uint8Array(n));
    this.froms = widen(this.froms, new Uint32Array(n));
    this.tos = widen(this.tos, new Uint32Array(n));
  }

  private checkRace(a: number, b: number, checkPages: boolean): void {
    if (this.racesWith(a, b, checkPages)) {
      this.conflicts[a] = 1;
      this.conflicts[b] = 1;
    }
  }

  /**
   * Two in-flight requests race when the order of their data transfers is undefined and matters: they
   * overlap on disk and one of them changes the disk, or they share a page and one of them DMAs into it.
   */
  private racesWith(a: number, b: number, checkPages: boolean): boolean {
    const readA = this.dirs[a] === IoDir.Read;
    const readB = this.dirs[b] === IoDir.Read;
    const changesDisk = !readA || !readB;
    if (changesDisk && this.starts[a]! < this.ends[b]! && this.starts[b]! < this.ends[a]!) return true;
    if (!checkPages || (!readA && !readB)) return false;
    return this.sharePage(a, b);
  }

  private sharePage(a: number, b: number): boolean {
    const pa = this.segColumns[a]!.pfn;
    const pb = this.segColumns[b]!.pfn;
    for (let i = this.froms[a]!; i < this.tos[a]!; i++) {
      for (let j = this.froms[b]!; j < this.tos[b]!; j++) if (pa[i] === pb[j]) return true;
    }
    return false;
  }

  private hasDuplicate(slot: number): boolean {
    const pfn = this.segColumns[slot]!.pfn;
    const from = this.froms[slot]!;
    for (let i = from + 1; i < this.tos[slot]!; i++) {
      for (let j = from; j < i; j++) if (pfn[i] === pfn[j]) return true;
    }
    return false;
  }
}
