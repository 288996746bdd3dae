/**
 * A guest for the blkif tests: memory with real bytes, a v1 grant table, PV-style machine frames (a
 * permutation of the PFNs) or HVM-style ones, and a DataMover that copies the way Xen's grant copy does,
 * checking the grant like the hypervisor would. Failures can be injected per grant.
 */
import { GTF, type FrameTranslator, type GrantTable } from '../../../../backends/xen/blkif/grants.ts';
import { identityFrames, pvFrames } from '../../../../backends/xen/blkif/grants.ts';
import type { DataMover, GrantPiece } from '../../../../backends/xen/blkif/ports.ts';

const PAGE = 4096;

export class TestGuest {
  readonly memory: Uint8Array;
  readonly table: GrantTable;
  readonly frames: FrameTranslator;
  /** pfn -> frame the guest grants (PV: machine frame; HVM: the pfn). */
  private readonly p2m: bigint[];
  private readonly m2p = new Map<bigint, number>();
  private nextRef = 8;
  /** Grants whose copies fail (as if the guest revoked them too early). */
  readonly failingGrants = new Set<number>();
  /** Log-dirty as Xen keeps it: CPU writes and grant-copy destinations set bits while it is on. */
  logDirtyOn = false;
  readonly dirtyBits: Uint8Array;

  constructor(
    readonly pageCount: number,
    readonly kind: 'pv' | 'hvm',
    tableFrames = 4,
  ) {
    this.memory = new Uint8Array(pageCount * PAGE);
    this.table = { version: 1, bytes: new Uint8Array(tableFrames * PAGE) };
    this.dirtyBits = new Uint8Array(Math.ceil(pageCount / 8));
    this.p2m = [];
    for (let pfn = 0; pfn < pageCount; pfn++) {
      // A fixed scramble, far above the PFN range, so a PFN mistaken for a frame cannot pass.
      const frame = kind === 'pv' ? BigInt(0x10000 + ((pfn * 7919) % pageCount)) : BigInt(pfn);
      this.p2m.push(frame);
      this.m2p.set(frame, pfn);
    }
    this.frames =
      kind === 'pv'
        ? pvFrames(
            (mfn) => (this.m2p.has(mfn) ? BigInt(this.m2p.get(mfn)!) : undefined),
            (pfn) => this.p2m[pfn],
            pageCount,
          )
        : identityFrames(pageCount);
  }

  page(pfn: number): Uint8Array {
    return this.memory.subarray(pfn * PAGE, (pfn + 1) * PAGE);
  }

  markDirty(pfn: number): void {
    if (this.logDirtyOn) this.dirtyBits[pfn >> 3] = this.dirtyBits[pfn >> 3]! | (1 << (pfn & 7));
  }

  /** The guest's CPU stores `value` at byte `offset` of page `pfn`. */
  cpuWrite(pfn: number, offset: number, value: number): void {
    this.page(pfn)[offset] = value;
    this.markDirty(pfn);
  }

  /** Grants page `pfn` to domain 0; returns the reference. */
  grant(pfn: number, readOnly = false, domid = 0): number {
    const ref = this.nextRef++;
    const v = new DataView(this.table.bytes.buffer, ref * 8, 8);
    v.setUint16(0, GTF.permitAccess | (readOnly ? GTF.readonly : 0), true);
    v.setUint16(2, domid, true);
    v.setUint32(4, Number(this.p2m[pfn]!), true);
    return ref;
  }

  revoke(ref: number): void {
    new DataView(this.table.bytes.buffer, ref * 8, 8).setUint16(0, 0, true);
  }

  /** The page a grant names, checked as the hypervisor checks a grant copy. */
  private granted(ref: number, writable: boolean): Uint8Array | undefined {
    if (this.failingGrants.has(ref)) return undefined;
    const v = new DataView(this.table.bytes.buffer, ref * 8, 8);
    const flags = v.getUint16(0, true);
    if ((flags & GTF.typeMask) !== GTF.permitAccess || v.getUint16(2, true) !== 0) return undefined;
    if (writable && flags & GTF.readonly) return undefined;
    const pfn = this.m2p.get(BigInt(v.getUint32(4, true)));
    if (pfn === undefined) return undefined;
    if (writable) this.markDirty(pfn);
    return this.page(pfn);
  }

  /** Grant copy as Xen does it: piece by piece; a failing piece leaves the earlier ones done. */
  mover(): DataMover {
    const copy = (pieces: readonly GrantPiece[], buf: Uint8Array, toGuest: boolean): boolean => {
      let at = 0;
      for (const p of pieces) {
        const page = this.granted(p.gref, toGuest);
        if (!page || p.offset + p.len > PAGE) return false;
        if (toGuest) page.set(buf.subarray(at, at + p.len), p.offset);
        else buf.set(page.subarray(p.offset, p.offset + p.len), at);
        at += p.len;
      }
      return true;
    };
    return {
      alloc: (bytes) => new Uint8Array(bytes),
      free: () => {},
      toGuest: (pieces, src) => copy(pieces, src, true),
      fromGuest: (pieces, dst) => copy(pieces, dst, false),
    };
  }
}
