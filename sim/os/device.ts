/**
 * The guest's block device as the hypervisor sees it. A bio (the guest's request: consecutive sectors,
 * a page segment per 512 B..4 KiB piece) takes a ring slot until it completes. The device model may move
 * its data in pieces (emulated IDE walking the PRD table), each piece its own submit/complete pair, and
 * may stage pages through bounce buffers: a read lands in a bounce page that the CPU then copies into
 * the real page (a mem_write), a write's data is first copied into a bounce page. Completion order is
 * random; a full ring makes the guest wait for its oldest request.
 */
import type { Prng } from '../prng.ts';
import type { Emitter } from './emitter.ts';
import type { IoParams } from './params.ts';

export const BioKind = {
  /** Page cache fill (readahead, metadata). */
  CacheRead: 1,
  /** Page cache writeback (data and metadata). */
  Writeback: 2,
  SwapOut: 3,
  SwapIn: 4,
  /** O_DIRECT / unbuffered I/O to and from process memory. */
  DirectRead: 5,
  DirectWrite: 6,
  /** Journal / log writes. */
  Journal: 7,
  Discard: 8,
  /** Boot loader reads through the firmware (into a bounce page). */
  Loader: 9,
} as const;
export type BioKind = (typeof BioKind)[keyof typeof BioKind];

export interface BioOwner {
  /** Bio `slot` finished, all pieces: its own pages are still pinned (the owner unpins them). */
  bioDone(slot: number, ok: boolean): void;
}

export class BlockDevice {
  readonly diskId: number;
  readonly segCap: number;
  readonly kind: Uint8Array;
  readonly dir: Uint8Array;
  readonly sector: Float64Array;
  readonly sectors: Int32Array;
  readonly nseg: Int32Array;
  readonly tag: Int32Array;
  /** Segments of slot s: [s * segCap, s * segCap + nseg[s]). */
  readonly pfn: Int32Array;
  readonly first: Uint8Array;
  readonly last: Uint8Array;
  /** The page each segment really transfers from/to (a bounce page, or pfn itself). */
  private readonly bpfn: Int32Array;
  private readonly bounced: Uint8Array;
  private readonly done: Int32Array;
  private readonly pieceEnd: Int32Array;
  private readonly reqId: Float64Array;
  private readonly seq: Float64Array;
  private readonly active: Int32Array;
  private nActive = 0;
  private readonly freeSlots: Int32Array;
  private nFree: number;
  private nextId = 1;
  private seqNo = 0;
  private readonly sPfn: Int32Array;
  private readonly sFirst: Uint8Array;
  private readonly sLast: Uint8Array;
  private poolNext = 0;
  private readonly dmaLimitPfn: number;
  /** Discards in flight. */
  discards = 0;

  constructor(
    private readonly p: IoParams,
    private readonly em: Emitter,
    private readonly pins: Uint8Array,
    private readonly rng: Prng,
    private readonly owner: BioOwner,
    /** Kernel pages reserved as bounce buffers. */
    private readonly pool: Int32Array,
  ) {
    const slots = p.ringDepth;
    this.diskId = p.diskId;
    this.segCap = p.maxSegments;
    if (pool.length > 0 && pool.length < p.maxSegments) {
      throw new RangeError(
        `a bounce pool of ${pool.length} pages cannot stage a ${p.maxSegments}-page request`,
      );
    }
    this.kind = new Uint8Array(slots);
    this.dir = new Uint8Array(slots);
    this.sector = new Float64Array(slots);
    this.sectors = new Int32Array(slots);
    this.nseg = new Int32Array(slots);
    this.tag = new Int32Array(slots);
    this.pfn = new Int32Array(slots * this.segCap);
    this.first = new Uint8Array(slots * this.segCap);
    this.last = new Uint8Array(slots * this.segCap);
    this.bpfn = new Int32Array(slots * this.segCap);
    this.bounced = new Uint8Array(slots);
    this.done = new Int32Array(slots);
    this.pieceEnd = new Int32Array(slots);
    this.reqId = new Float64Array(slots);
    this.seq = new Float64Array(slots);
    this.active = new Int32Array(slots);
    this.freeSlots = new Int32Array(slots);
    for (let s = 0; s < slots; s++) this.freeSlots[s] = slots - 1 - s;
    this.nFree = slots;
    this.sPfn = new Int32Array(this.segCap + 1);
    this.sFirst = new Uint8Array(this.segCap + 1);
    this.sLast = new Uint8Array(this.segCap + 1);
    this.dmaLimitPfn = p.dmaLimitBytes > 0 ? Math.floor(p.dmaLimitBytes / 4096) : Infinity;
  }

  /** Bios in flight. */
  get inflight(): number {
    return this.nActive;
  }

  /**
   * Submits a bio over sectors from `sector`: segments pfn/first/last[0..n), already pinned by the
   * caller. Waits for the oldest bio first when the ring is full.
   */
  submit(
    kind: BioKind,
    dir: 0 | 1,
    tag: number,
    sector: number,
    pfn: Int32Array,
    first: Uint8Array,
    last: Uint8Array,
    n: number,
  ): void {
    while (this.nActive >= this.p.ringDepth) this.finishOldest();
    const slot = this.freeSlots[--this.nFree]!;
    const base = slot * this.segCap;
    let sectors = 0;
    for (let k = 0; k < n; k++) {
      this.pfn[base + k] = pfn[k]!;
      this.first[base + k] = first[k]!;
      this.last[base + k] = last[k]!;
      this.bpfn[base + k] = pfn[k]!;
      sectors += last[k]! - first[k]! + 1;
    }
    this.kind[slot] = kind;
    this.dir[slot] = dir;
    this.tag[slot] = tag;
    this.sector[slot] = sector;
    this.sectors[slot] = sectors;
    this.nseg[slot] = n;
    this.done[slot] = 0;
    this.seq[slot] = this.seqNo++;
    this.bounced[slot] = 0;
    this.active[this.nActive++] = slot;
    const all = kind === BioKind.Loader || (this.p.bounceRate > 0 && this.rng.chance(this.p.bounceRate));
    if (all || this.dmaLimitPfn !== Infinity) {
      for (let k = 0; k < n; k++) {
        if (!all && pfn[k]! < this.dmaLimitPfn) continue;
        const b = this.takeBounce();
        this.bpfn[base + k] = b;
        this.bounced[slot] = 1;
        // A write's data is copied into the bounce page before the device reads it.
        if (dir === 1) this.em.memWrite(b);
      }
    }
    this.submitPiece(slot);
  }

  /** Submits a discard of `count` sectors. */
  discard(sector: number, count: number): void {
    while (this.nActive >= this.p.ringDepth) this.finishOldest();
    const slot = this.freeSlots[--this.nFree]!;
    this.kind[slot] = BioKind.Discard;
    this.dir[slot] = 2;
    this.tag[slot] = -1;
    this.sector[slot] = sector;
    this.sectors[slot] = count;
    this.nseg[slot] = 0;
    this.done[slot] = 0;
    this.pieceEnd[slot] = count;
    this.seq[slot] = this.seqNo++;
    this.bounced[slot] = 0;
    this.active[this.nActive++] = slot;
    this.discards++;
    const id = this.nextId++;
    this.reqId[slot] = id;
    this.em.discard(id, this.diskId, sector, count);
  }

  /** A free bounce page, pinned for the caller; waits for I/O when all are busy. */
  private takeBounce(): number {
    const pool = this.pool;
    if (pool.length === 0) throw new Error('this guest has no bounce buffers');
    for (;;) {
      for (let i = 0; i < pool.length; i++) {
        const b = pool[this.poolNext]!;
        this.poolNext = (this.poolNext + 1) % pool.length;
        if (this.pins[b] === 0) {
          this.pins[b] = 1;
          return b;
        }
      }
      this.finishOldest();
    }
  }

  /** Submits the next piece of bio `slot`: all of it, or up to chunkSectors (maybe ending mid-page). */
  private submitPiece(slot: number): void {
    const total = this.sectors[slot]!;
    const from = this.done[slot]!;
    let to = total;
    const chunk = this.p.chunkSectors;
    if (chunk > 0) {
      // Pieces end at multiples of chunkSectors from the request's start (page boundaries, since
      // chunkSectors is a multiple of 8), or, now and then, a few sectors before one: mid-page.
      to = Math.min(total, (Math.floor(from / chunk) + 1) * chunk);
      if (to < total && this.p.subPageSplitRate > 0 && this.rng.chance(this.p.subPageSplitRate)) {
        to = Math.max(from + 1, to - 1 - this.rng.int(7));
      }
    }
    this.pieceEnd[slot] = to;
    const base = slot * this.segCap;
    const n = this.nseg[slot]!;
    let off = 0;
    let m = 0;
    for (let k = 0; k < n && off < to; k++) {
      const f = this.first[base + k]!;
      const len = this.last[base + k]! - f + 1;
      const end = off + len;
      if (end > from) {
        this.sPfn[m] = this.bpfn[base + k]!;
        this.sFirst[m] = f + Math.max(0, from - off);
        this.sLast[m] = f + Math.min(len, to - off) - 1;
        m++;
      }
      off = end;
    }
    const id = this.nextId++;
    this.reqId[slot] = id;
    this.em.submit(
      id,
      this.dir[slot] as 0 | 1,
      this.diskId,
      this.sector[slot]! + from,
      this.sPfn,
      this.sFirst,
      this.sLast,
      m,
    );
  }

  /** Completes the current piece of `slot`; returns true when that finished the bio. */
  private completePiece(slot: number): boolean {
    const ok = !(this.p.failRate > 0 && this.rng.chance(this.p.failRate));
    this.em.complete(this.reqId[slot]!, ok);
    const base = slot * this.segCap;
    const n = this.nseg[slot]!;
    for (let k = 0; k < n; k++) this.em.ioTouch(this.bpfn[base + k]!);
    if (ok && this.pieceEnd[slot]! < this.sectors[slot]!) {
      this.done[slot] = this.pieceEnd[slot]!;
      this.submitPiece(slot);
      return false;
    }
    this.finish(slot, ok);
    return true;
  }

  private finish(slot: number, ok: boolean): void {
    const a = this.active;
    for (let i = 0; i < this.nActive; i++) {
      if (a[i] === slot) {
        a[i] = a[--this.nActive]!;
        break;
      }
    }
    if (this.kind[slot] === BioKind.Discard) this.discards--;
    if (this.bounced[slot]) {
      const base = slot * this.segCap;
      const read = this.dir[slot] === 0;
      for (let k = 0; k < this.nseg[slot]!; k++) {
        const b = this.bpfn[base + k]!;
        const p = this.pfn[base + k]!;
        if (b === p) continue;
        // The CPU copies the bounce page into the page the guest asked for.
        if (ok && read) this.em.memWrite(p);
        this.pins[b] = 0;
      }
    }
    this.owner.bioDone(slot, ok);
    this.freeSlots[this.nFree++] = slot;
  }

  /** Completes every piece of bio `slot`: the guest waits for it. */
  private finishBio(slot: number): void {
    while (!this.completePiece(slot));
  }

  /** `ticks` units of time pass: each in-flight request completes with probability completionRate per unit. */
  progress(ticks = 1): void {
    if (this.nActive === 0) return;
    const rate = ticks === 1 ? this.p.completionRate : 1 - Math.pow(1 - this.p.completionRate, ticks);
    for (let i = this.nActive - 1; i >= 0; i--) {
      if (i >= this.nActive) continue;
      if (this.rng.next() < rate) this.completePiece(this.active[i]!);
    }
  }

  /** Waits for the oldest bio; false when nothing is in flight. */
  finishOldest(): boolean {
    if (this.nActive === 0) return false;
    let best = this.active[0]!;
    for (let i = 1; i < this.nActive; i++) {
      const s = this.active[i]!;
      if (this.seq[s]! < this.seq[best]!) best = s;
    }
    this.finishBio(best);
    return true;
  }

  /** Waits until no bio in flight uses page `pfn`. */
  waitPage(pfn: number): void {
    for (;;) {
      const slot = this.slotUsing(pfn);
      if (slot < 0) return;
      this.finishBio(slot);
    }
  }

  /** Waits for every bio of kind `kind` (every bio when kind is 0). */
  drain(kind: number): void {
    for (let i = this.nActive - 1; i >= 0; i--) {
      if (i >= this.nActive) continue;
      const s = this.active[i]!;
      if (kind === 0 || this.kind[s] === kind) {
        this.finishBio(s);
        i = this.nActive;
      }
    }
  }

  private slotUsing(pfn: number): number {
    for (let i = 0; i < this.nActive; i++) {
      const s = this.active[i]!;
      const base = s * this.segCap;
      for (let k = 0; k < this.nseg[s]!; k++) {
        if (this.pfn[base + k] === pfn || this.bpfn[base + k] === pfn) return s;
      }
    }
    return -1;
  }
}
