/**
 * The DataMover of a real host: xengnttab_grant_copy between guest grants and bounce buffers in native
 * memory (the hypercall needs their addresses). One buffer per request in flight, reused.
 */
import type { DataMover, GrantPiece } from './ports.ts';

export const COPY_SEGMENT_SIZE = 24;
const GNTCOPY_SOURCE_GREF = 1;
const GNTCOPY_DEST_GREF = 2;
/** The most a request moves: 11 segments of one page. */
export const MAX_REQUEST_BYTES = 11 * 4096;

export interface NativeBuffer {
  readonly bytes: Uint8Array;
  readonly address: bigint;
}

export interface GrantCopyPort {
  /** Native memory that stays put; never freed (the pool reuses it). */
  allocNative(bytes: number): NativeBuffer;
  /** Runs `count` segments encoded in `segs`; statuses are written back at offset 20 of each. */
  copy(segs: Uint8Array, count: number): boolean;
}

/** Encodes xengnttab_grant_copy_segment_t entries: one per piece, buffer side by address. */
export function encodeCopySegments(
  pieces: readonly GrantPiece[],
  domid: number,
  address: bigint,
  toGuest: boolean,
): Uint8Array {
  const out = new Uint8Array(pieces.length * COPY_SEGMENT_SIZE);
  const v = new DataView(out.buffer);
  let at = 0n;
  pieces.forEach((p, i) => {
    const o = i * COPY_SEGMENT_SIZE;
    const gref = toGuest ? o + 8 : o;
    const virt = toGuest ? o : o + 8;
    v.setUint32(gref, p.gref, true);
    v.setUint16(gref + 4, p.offset, true);
    v.setUint16(gref + 6, domid, true);
    v.setBigUint64(virt, address + at, true);
    v.setUint16(o + 16, p.len, true);
    v.setUint16(o + 18, toGuest ? GNTCOPY_DEST_GREF : GNTCOPY_SOURCE_GREF, true);
    at += BigInt(p.len);
  });
  return out;
}

export class GrantCopyMover implements DataMover {
  private readonly freeList: NativeBuffer[] = [];
  private readonly owner = new Map<Uint8Array, NativeBuffer>();

  constructor(
    private readonly port: GrantCopyPort,
    private readonly domid: number,
  ) {}

  alloc(bytes: number): Uint8Array {
    if (bytes > MAX_REQUEST_BYTES) throw new RangeError(`request of ${bytes} bytes`);
    const buf = this.freeList.pop() ?? this.port.allocNative(MAX_REQUEST_BYTES);
    const view = buf.bytes.subarray(0, bytes);
    this.owner.set(view, buf);
    return view;
  }

  free(view: Uint8Array): void {
    const buf = this.owner.get(view);
    if (!buf) return;
    this.owner.delete(view);
    this.freeList.push(buf);
  }

  toGuest(pieces: readonly GrantPiece[], src: Uint8Array): boolean {
    return this.copy(pieces, src, true);
  }

  fromGuest(pieces: readonly GrantPiece[], dst: Uint8Array): boolean {
    return this.copy(pieces, dst, false);
  }

  private copy(pieces: readonly GrantPiece[], view: Uint8Array, toGuest: boolean): boolean {
    const buf = this.owner.get(view);
    if (!buf) throw new Error('grant copy needs a buffer from alloc()');
    const segs = encodeCopySegments(pieces, this.domid, buf.address, toGuest);
    if (!this.port.copy(segs, pieces.length)) return false;
    const v = new DataView(segs.buffer);
    for (let i = 0; i < pieces.length; i++)
      if (v.getInt16(i * COPY_SEGMENT_SIZE + 20, true) !== 0) return false;
    return true;
  }
}
