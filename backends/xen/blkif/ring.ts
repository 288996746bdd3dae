/**
 * The shared request/response ring (io/ring.h) over plain memory: the mapped ring pages in dom0, or an
 * ArrayBuffer in tests. Indices are free-running u32 counters; slot = index mod size.
 *
 * Memory ordering: x86 is TSO, so the read and write barriers of ring.h are compiler barriers only,
 * and JS does not reorder these DataView accesses. The two full barriers (store rsp_prod then load
 * rsp_event; store req_event then reload req_prod) cannot be expressed on a non-shared buffer, so the
 * backend tolerates the race the way ring.h's comment allows: it notifies after every push and re-polls
 * the ring on a timer, so a lost wake-up costs latency, never a hang.
 */
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './codec.ts';
import type { BlkifRequest, BlkifResponse } from './codec.ts';
import { ringSlots, SRING, SRING_HEADER, type BlkifAbi } from './layout.ts';

const u32 = (x: number): number => x >>> 0;

export class RingError extends Error {
  override readonly name = 'RingError';
}

abstract class Ring {
  protected readonly v: DataView;
  readonly size: number;

  constructor(
    mem: Uint8Array,
    pages: number,
    readonly abi: BlkifAbi,
  ) {
    this.v = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    this.size = ringSlots(pages, abi);
    if (SRING_HEADER + this.size * abi.entry > mem.byteLength) throw new RangeError('ring memory too small');
  }

  protected slot(idx: number): number {
    return SRING_HEADER + (idx & (this.size - 1)) * this.abi.entry;
  }

  protected get(field: number): number {
    return this.v.getUint32(field, true);
  }

  protected set(field: number, value: number): void {
    this.v.setUint32(field, u32(value), true);
  }
}

/** The backend's end: consumes requests, produces responses. */
export class BackRing extends Ring {
  private reqCons = 0;
  private rspProdPvt = 0;

  /** Starts on a ring the frontend has just initialised (SHARED_RING_INIT + BACK_RING_INIT). */
  constructor(mem: Uint8Array, pages: number, abi: BlkifAbi) {
    super(mem, pages, abi);
    this.reqCons = this.get(SRING.rspProd);
    this.rspProdPvt = this.reqCons;
  }

  /** Requests produced and not yet taken. Throws if the frontend claims more than the ring holds. */
  unconsumed(): number {
    const n = u32(this.get(SRING.reqProd) - this.reqCons);
    // Requests outstanding (taken, not yet answered) also occupy slots: RING_REQUEST_PROD_OVERFLOW.
    if (n + u32(this.reqCons - this.rspProdPvt) > this.size) {
      throw new RingError(`frontend produced ${n} requests with ${this.size} slots: ring overflow`);
    }
    return n;
  }

  /** Copies the next request out of its slot. */
  take(): BlkifRequest {
    const r = decodeRequest(this.v, this.slot(this.reqCons), this.abi);
    this.reqCons = u32(this.reqCons + 1);
    return r;
  }

  /** Writes a response into the next response slot (not yet visible to the frontend). */
  respond(rsp: BlkifResponse): void {
    encodeResponse(this.v, this.slot(this.rspProdPvt), this.abi, rsp);
    this.rspProdPvt = u32(this.rspProdPvt + 1);
  }

  /** Publishes written responses; true if the frontend asked to be notified (RING_PUSH_..._AND_CHECK_NOTIFY). */
  push(): boolean {
    const old = this.get(SRING.rspProd);
    const now = this.rspProdPvt;
    this.set(SRING.rspProd, now);
    return u32(now - this.get(SRING.rspEvent)) < u32(now - old);
  }

  /** Before sleeping: ask for a notification at the next request, then look once more (RING_FINAL_CHECK). */
  finalCheck(): boolean {
    if (this.unconsumed() > 0) return true;
    this.set(SRING.reqEvent, this.reqCons + 1);
    return this.unconsumed() > 0;
  }

  /** Responses written and not yet published. */
  get unpushed(): number {
    return u32(this.rspProdPvt - this.get(SRING.rspProd));
  }

  /** Requests taken and not yet answered. */
  get outstanding(): number {
    return u32(this.reqCons - this.rspProdPvt);
  }
}

/** The frontend's end, as blkfront drives it: for test frontends. */
export class FrontRing extends Ring {
  private reqProdPvt = 0;
  private rspCons = 0;

  /** SHARED_RING_INIT + FRONT_RING_INIT on zeroed memory. */
  constructor(mem: Uint8Array, pages: number, abi: BlkifAbi) {
    super(mem, pages, abi);
    mem.fill(0);
    this.set(SRING.reqEvent, 1);
    this.set(SRING.rspEvent, 1);
  }

  get free(): number {
    return this.size - u32(this.reqProdPvt - this.rspCons);
  }

  put(req: BlkifRequest): void {
    if (this.free === 0) throw new RingError('front ring full');
    encodeRequest(this.v, this.slot(this.reqProdPvt), this.abi, req);
    this.reqProdPvt = u32(this.reqProdPvt + 1);
  }

  /** Publishes requests; true if the backend asked to be notified. */
  push(): boolean {
    const old = this.get(SRING.reqProd);
    const now = this.reqProdPvt;
    this.set(SRING.reqProd, now);
    return u32(now - this.get(SRING.reqEvent)) < u32(now - old);
  }

  /** Takes every published response, and asks to be notified of the next one. */
  responses(): BlkifResponse[] {
    const out: BlkifResponse[] = [];
    for (;;) {
      const prod = this.get(SRING.rspProd);
      while (this.rspCons !== prod) {
        out.push(decodeResponse(this.v, this.slot(this.rspCons), this.abi));
        this.rspCons = u32(this.rspCons + 1);
      }
      this.set(SRING.rspEvent, this.rspCons + 1);
      if (this.get(SRING.rspProd) === prod) return out;
    }
  }
}
