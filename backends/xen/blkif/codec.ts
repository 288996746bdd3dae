/**
 * Request and response codec. The backend copies each request out of the shared slot before looking at
 * it (the guest may rewrite the slot at any time), so decoding reads every field exactly once.
 */
import { BlkifOp, MAX_SEGMENTS, type BlkifAbi } from './layout.ts';

/** One granted guest page of a read or write: sectors first..last (inclusive) of that page. */
export interface BlkifSegment {
  readonly gref: number;
  readonly first: number;
  readonly last: number;
}

export type BlkifRequest =
  | {
      /** Disk to memory (read) or memory to disk (write, also FLUSH_DISKCACHE/WRITE_BARRIER with data). */
      readonly kind: 'read' | 'write';
      readonly op: number;
      readonly id: bigint;
      readonly handle: number;
      readonly sector: number;
      readonly segs: readonly BlkifSegment[];
      /** nr_segments as the guest wrote it: more than 11 (or 0) is a protocol error the backend refuses. */
      readonly declared: number;
      /** Flush the disk before the write (FLUSH_DISKCACHE, WRITE_BARRIER). */
      readonly flush: boolean;
    }
  | { readonly kind: 'flush'; readonly op: number; readonly id: bigint }
  | {
      readonly kind: 'discard';
      readonly op: number;
      readonly id: bigint;
      readonly sector: number;
      readonly count: number;
      readonly secure: boolean;
    }
  /** Indirect requests (not advertised) and unknown operations: answered with EOPNOTSUPP. */
  | { readonly kind: 'unsupported'; readonly op: number; readonly id: bigint };

export interface BlkifResponse {
  readonly id: bigint;
  readonly op: number;
  readonly status: number;
}

/** Sectors are u64 on the wire; anything past 2^53 cannot be a real disk and is rejected later. */
function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

/** Decodes the request in the entry at byte `off` of `v`. */
export function decodeRequest(v: DataView, off: number, abi: BlkifAbi): BlkifRequest {
  const op = v.getUint8(off);
  switch (op) {
    case BlkifOp.Read:
    case BlkifOp.Write:
    case BlkifOp.WriteBarrier:
    case BlkifOp.FlushDiskcache: {
      const id = v.getBigUint64(off + abi.req.id, true);
      const n = v.getUint8(off + 1);
      if (op === BlkifOp.FlushDiskcache && n === 0) return { kind: 'flush', op, id };
      const segs: BlkifSegment[] = [];
      // A count above 11 is a protocol error; keep it visible (the backend rejects it) without reading past the slot.
      for (let k = 0; k < Math.min(n, MAX_SEGMENTS); k++) {
        const s = off + abi.req.segs + 8 * k;
        segs.push({ gref: v.getUint32(s, true), first: v.getUint8(s + 4), last: v.getUint8(s + 5) });
      }
      return {
        kind: op === BlkifOp.Read ? 'read' : 'write',
        op,
        id,
        handle: v.getUint16(off + 2, true),
        sector: u64(v, off + abi.req.sector),
        segs,
        declared: n,
        flush: op !== BlkifOp.Read && op !== BlkifOp.Write,
      };
    }
    case BlkifOp.Discard:
      return {
        kind: 'discard',
        op,
        id: v.getBigUint64(off + abi.discard.id, true),
        sector: u64(v, off + abi.discard.sector),
        count: u64(v, off + abi.discard.count),
        secure: (v.getUint8(off + 1) & 1) !== 0,
      };
    default:
      // Indirect requests keep their id at 8 (x86_64) or 4 (x86_32), like the others.
      return { kind: 'unsupported', op, id: v.getBigUint64(off + abi.req.id, true) };
  }
}

/** Encodes a request (what a frontend does; used by test frontends). Unused segment slots are zeroed. */
export function encodeRequest(v: DataView, off: number, abi: BlkifAbi, req: BlkifRequest): void {
  new Uint8Array(v.buffer, v.byteOffset + off, abi.entry).fill(0);
  v.setUint8(off, req.op);
  if (req.kind === 'discard') {
    v.setUint8(off + 1, req.secure ? 1 : 0);
    v.setBigUint64(off + abi.discard.id, req.id, true);
    v.setBigUint64(off + abi.discard.sector, BigInt(req.sector), true);
    v.setBigUint64(off + abi.discard.count, BigInt(req.count), true);
    return;
  }
  v.setBigUint64(off + abi.req.id, req.id, true);
  if (req.kind === 'flush' || req.kind === 'unsupported') return;
  v.setUint8(off + 1, req.segs.length);
  v.setUint16(off + 2, req.handle, true);
  v.setBigUint64(off + abi.req.sector, BigInt(req.sector), true);
  req.segs.slice(0, MAX_SEGMENTS).forEach((s, k) => {
    const o = off + abi.req.segs + 8 * k;
    v.setUint32(o, s.gref, true);
    v.setUint8(o + 4, s.first);
    v.setUint8(o + 5, s.last);
  });
}

export function encodeResponse(v: DataView, off: number, abi: BlkifAbi, rsp: BlkifResponse): void {
  v.setBigUint64(off + abi.rsp.id, rsp.id, true);
  v.setUint8(off + abi.rsp.op, rsp.op);
  v.setUint8(off + abi.rsp.op + 1, 0);
  v.setInt16(off + abi.rsp.status, rsp.status, true);
}

export function decodeResponse(v: DataView, off: number, abi: BlkifAbi): BlkifResponse {
  return {
    id: v.getBigUint64(off + abi.rsp.id, true),
    op: v.getUint8(off + abi.rsp.op),
    status: v.getInt16(off + abi.rsp.status, true),
  };
}
