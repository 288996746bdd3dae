/**
 * A blkfront stand-in: negotiates through the store, puts its ring in guest pages it grants, and issues
 * requests whose data pages it grants for the duration of the request, as Linux blkfront does.
 */
import type { BlkifRequest, BlkifResponse } from '../../../../backends/xen/blkif/codec.ts';
import type { EventChannel, MappedRing, RingConnector } from '../../../../backends/xen/blkif/attach.ts';
import { BlkifOp, X86_32, X86_64 } from '../../../../backends/xen/blkif/layout.ts';
import { FrontRing } from '../../../../backends/xen/blkif/ring.ts';
import type { MemoryXenstore } from './memory-xenstore.ts';
import type { TestGuest } from './test-guest.ts';

const PAGE = 4096;

export interface TestSegment {
  readonly pfn: number;
  readonly first?: number;
  readonly last?: number;
  readonly readOnly?: boolean;
  /** Give the backend a grant reference that grants nothing. */
  readonly badGrant?: boolean;
}

export type TestRequest =
  | {
      readonly op: 'read' | 'write' | 'flush-write';
      readonly sector: number;
      readonly segs: readonly TestSegment[];
    }
  | { readonly op: 'discard'; readonly sector: number; readonly count: number }
  | { readonly op: 'flush' }
  | { readonly op: 'indirect' };

/** Event channels between the test frontends and the backend, by (domid, frontend port). */
export class TestChannels implements RingConnector {
  private readonly frontends = new Map<string, () => void>();
  private readonly backends = new Map<string, () => void>();
  notifications = 0;

  constructor(private readonly guests: Map<number, TestGuest>) {}

  registerFrontend(domid: number, port: number, onEvent: () => void): void {
    this.frontends.set(`${domid}:${port}`, onEvent);
  }

  notifyBackend(domid: number, port: number): void {
    this.backends.get(`${domid}:${port}`)?.();
  }

  mapRing(domid: number, refs: readonly number[]): MappedRing {
    const guest = this.guests.get(domid);
    if (!guest) throw new Error(`no domain ${domid}`);
    const pfns = refs.map((r) => {
      const pfn = guest.frames.pfnOf(
        BigInt(new DataView(guest.table.bytes.buffer, r * 8 + 4, 4).getUint32(0, true)),
      );
      if (pfn === undefined) throw new Error(`ring grant ${r} names no page`);
      return pfn;
    });
    if (pfns.some((p, i) => p !== pfns[0]! + i)) throw new Error('test ring pages must be contiguous');
    return {
      bytes: guest.memory.subarray(pfns[0]! * PAGE, (pfns[0]! + refs.length) * PAGE),
      unmap: () => {},
    };
  }

  bindEventChannel(domid: number, remotePort: number, onEvent: () => void): EventChannel {
    const key = `${domid}:${remotePort}`;
    this.backends.set(key, onEvent);
    return {
      notify: () => {
        this.notifications++;
        const fe = this.frontends.get(key);
        if (fe) queueMicrotask(fe);
      },
      close: () => this.backends.delete(key),
    };
  }
}

export class TestFrontend {
  private ring: FrontRing | undefined;
  private nextId = 1n;
  private readonly waiting = new Map<bigint, { resolve: (r: BlkifResponse) => void; grants: number[] }>();
  readonly fe: string;
  private readonly port: number;
  /** When false, the frontend never notifies: only the backend's poll timer finds its requests. */
  notifyBackend = true;

  constructor(
    private readonly xs: MemoryXenstore,
    private readonly guest: TestGuest,
    private readonly channels: TestChannels,
    readonly domid: number,
    devid: number,
    private readonly opts: { ringPages?: 1 | 2 | 4 | 8; abi?: '64' | '32'; ringPfn?: number } = {},
  ) {
    this.fe = `/local/domain/${domid}/device/vbd/${devid}`;
    this.port = 40 + (devid % 16);
    channels.registerFrontend(domid, this.port, () => this.collect());
  }

  get state(): number {
    return Number(this.xs.read(`${this.fe}/state`));
  }

  /** Follows the backend to Connected; resolves when both are connected. */
  connect(): Promise<void> {
    const be = this.xs.read(`${this.fe}/backend`);
    if (!be) throw new Error('no backend key in the frontend directory');
    return new Promise((resolve) => {
      const unwatch = this.xs.watch(`${be}/state`, () => {
        const s = Number(this.xs.read(`${be}/state`));
        if (s === 2 && this.state === 1) this.initialise();
        if (s === 4 && this.state === 3) {
          this.xs.write(`${this.fe}/state`, '4');
          unwatch();
          resolve();
        }
      });
    });
  }

  private initialise(): void {
    const pages = this.opts.ringPages ?? 1;
    const first = this.opts.ringPfn ?? this.guest.pageCount - pages;
    const abi = this.opts.abi === '32' ? X86_32 : X86_64;
    this.ring = new FrontRing(this.guest.memory.subarray(first * PAGE, (first + pages) * PAGE), pages, abi);
    const refs = Array.from({ length: pages }, (_, i) => this.guest.grant(first + i));
    if (pages === 1) this.xs.write(`${this.fe}/ring-ref`, String(refs[0]));
    else {
      this.xs.write(`${this.fe}/ring-page-order`, String(Math.log2(pages)));
      refs.forEach((r, i) => this.xs.write(`${this.fe}/ring-ref${i}`, String(r)));
    }
    this.xs.write(`${this.fe}/event-channel`, String(this.port));
    this.xs.write(`${this.fe}/protocol`, abi.name);
    this.xs.write(`${this.fe}/feature-persistent`, '1');
    this.xs.write(`${this.fe}/state`, '3');
  }

  /** Goes through Closing to Closed, then starts over, as a guest does on resume. */
  reset(): void {
    this.xs.write(`${this.fe}/state`, '5');
    this.xs.write(`${this.fe}/state`, '6');
    this.xs.write(`${this.fe}/state`, '1');
  }

  get slotsFree(): number {
    return this.ring?.free ?? 0;
  }

  /** Queues a request; the promise resolves with the backend's status once it is answered. */
  request(r: TestRequest): Promise<number> {
    const ring = this.ring;
    if (!ring) throw new Error('not connected');
    const id = this.nextId++;
    const grants: number[] = [];
    let req: BlkifRequest;
    switch (r.op) {
      case 'flush':
        req = { kind: 'flush', op: BlkifOp.FlushDiskcache, id };
        break;
      case 'indirect':
        req = { kind: 'unsupported', op: BlkifOp.Indirect, id };
        break;
      case 'discard':
        req = { kind: 'discard', op: BlkifOp.Discard, id, sector: r.sector, count: r.count, secure: false };
        break;
      default: {
        const segs = r.segs.map((s) => {
          if (s.badGrant) return { gref: 4000, first: s.first ?? 0, last: s.last ?? 7 };
          const gref = this.guest.grant(s.pfn, s.readOnly ?? r.op !== 'read');
          grants.push(gref);
          return { gref, first: s.first ?? 0, last: s.last ?? 7 };
        });
        const op = r.op === 'read' ? BlkifOp.Read : r.op === 'write' ? BlkifOp.Write : BlkifOp.FlushDiskcache;
        req = {
          kind: r.op === 'read' ? 'read' : 'write',
          op,
          id,
          handle: 0,
          sector: r.sector,
          segs,
          declared: segs.length,
          flush: op === BlkifOp.FlushDiskcache,
        };
      }
    }
    ring.put(req);
    const promise = new Promise<BlkifResponse>((resolve) => this.waiting.set(id, { resolve, grants }));
    if (ring.push() && this.notifyBackend) this.channels.notifyBackend(this.domid, this.port);
    return promise.then((rsp) => rsp.status);
  }

  /** Publishes without notifying (for requests that must wait in the ring). */
  collect(): void {
    if (!this.ring) return;
    for (const rsp of this.ring.responses()) {
      const w = this.waiting.get(rsp.id);
      if (!w) throw new Error(`response to unknown request ${rsp.id}`);
      this.waiting.delete(rsp.id);
      for (const g of w.grants) this.guest.revoke(g);
      w.resolve(rsp);
    }
  }

  get outstanding(): number {
    return this.waiting.size;
  }
}
