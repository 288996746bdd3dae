/**
 * blkif wire layouts (xen/include/public/io/blkif.h, io/ring.h) for the two ABIs a frontend may
 * announce in its `protocol` key. Offsets are bytes within one ring entry; all fields little-endian.
 */

export const BlkifOp = {
  Read: 0,
  Write: 1,
  WriteBarrier: 2,
  FlushDiskcache: 3,
  Discard: 5,
  Indirect: 6,
} as const;

export const BlkifStatus = { Okay: 0, Error: -1, NotSupported: -2 } as const;

export const MAX_SEGMENTS = 11;
export const PAGE_BYTES = 4096;
/** The shared ring page starts with req_prod, req_event, rsp_prod, rsp_event, then padding. */
export const SRING_HEADER = 64;
export const SRING = { reqProd: 0, reqEvent: 4, rspProd: 8, rspEvent: 12 } as const;

export interface BlkifAbi {
  readonly name: 'x86_64-abi' | 'x86_32-abi';
  /** Size of `union blkif_sring_entry`: the larger of request and response. */
  readonly entry: number;
  readonly req: { readonly id: number; readonly sector: number; readonly segs: number };
  readonly discard: { readonly id: number; readonly sector: number; readonly count: number };
  readonly rsp: { readonly id: number; readonly op: number; readonly status: number };
}

/** Native x86_64: u64 fields 8-aligned (request 112 B, response 16 B). */
export const X86_64: BlkifAbi = {
  name: 'x86_64-abi',
  entry: 112,
  req: { id: 8, sector: 16, segs: 24 },
  discard: { id: 8, sector: 16, count: 24 },
  rsp: { id: 0, op: 8, status: 10 },
};

/** 32-bit guests: u64 fields 4-aligned (request 108 B, response 12 B). */
export const X86_32: BlkifAbi = {
  name: 'x86_32-abi',
  entry: 108,
  req: { id: 4, sector: 12, segs: 20 },
  discard: { id: 4, sector: 12, count: 20 },
  rsp: { id: 0, op: 8, status: 10 },
};

/** The ABI a frontend's `protocol` key names; absent means native (x86_64 here). */
export function abiOf(protocol: string | undefined): BlkifAbi | undefined {
  if (protocol === undefined || protocol === '' || protocol === X86_64.name) return X86_64;
  if (protocol === X86_32.name) return X86_32;
  return undefined;
}

/** Ring slots in `pages` shared pages: the largest power of two that fits (`__CONST_RING_SIZE`). */
export function ringSlots(pages: number, abi: BlkifAbi): number {
  const fit = Math.floor((pages * PAGE_BYTES - SRING_HEADER) / abi.entry);
  let n = 1;
  while (n * 2 <= fit) n *= 2;
  return n;
}
