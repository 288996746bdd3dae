/**
 * libxenguest (libxenmisc4.17): the machine-to-phys table and a PV guest's p2m, which turn the machine
 * frames a PV guest grants into its PFNs (struct xc_domain_meminfo: pt_levels@0, guest_width@4,
 * pfn_type@8, p2m_table@16, p2m_size@24, p2m_frames@32).
 */
import { bytesAt, cfunc, check, isNull, koffi, library, type Ptr } from './load.ts';
import type { XenCtrl } from './xenctrl.ts';

interface Fns {
  mapM2p(x: Ptr, maxMfn: number, prot: number, mfn0: Ptr): Ptr;
  maxRamPage(x: Ptr, out: bigint[]): number;
  mapMeminfo(x: Ptr, d: number, minfo: Ptr): number;
  unmapMeminfo(x: Ptr, minfo: Ptr): void;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const guest = library('libxenguest.so.4.17', 'libxenmisc4.17');
  const ctrl = library('libxenctrl.so.4.17', 'libxenmisc4.17');
  fns = {
    mapM2p: cfunc(guest, 'void *xc_map_m2p(void *x, unsigned long max_mfn, int prot, void *mfn0)'),
    maxRamPage: cfunc(ctrl, 'int xc_maximum_ram_page(void *x, _Out_ unsigned long *max_mfn)'),
    mapMeminfo: cfunc(guest, 'int xc_map_domain_meminfo(void *x, uint32_t d, void *minfo)'),
    unmapMeminfo: cfunc(guest, 'int xc_unmap_domain_meminfo(void *x, void *minfo)'),
  };
  return fns;
}

/** The global M2P, read-only: entry i is the PFN owning machine frame i (for its owner only). */
export function mapM2p(xc: XenCtrl): {
  lookup(mfn: bigint): bigint | undefined;
  /** The whole table: entry i for machine frame i. */
  readonly table: BigUint64Array;
} {
  const f = load();
  const out = [0n];
  check(f.maxRamPage(xc.raw, out) >= 0, 'xc_maximum_ram_page');
  const maxMfn = Number(out[0]);
  const m2p = f.mapM2p(xc.raw, maxMfn, 1, null);
  check(!isNull(m2p), 'xc_map_m2p');
  // XENMEM_maximum_ram_page answers Xen's max_page, one past the highest machine frame: the table has
  // that many entries, and xc_map_m2p maps no more than them, rounded up to 2 MiB. Entry max_page lies
  // past the mapping whenever RAM ends on a 1 GiB boundary (a scan of the whole table crashed there).
  const table = new BigUint64Array(koffi().view(m2p, maxMfn * 8));
  return { table, lookup: (mfn) => (mfn < BigInt(maxMfn) ? table[Number(mfn)] : undefined) };
}

/** A PV guest's p2m as libxenguest maps it; `refresh` re-maps it (the guest may rearrange it). */
export class PvP2m {
  private minfo: Ptr = null;
  private table: BigUint64Array | undefined;

  constructor(
    private readonly xc: XenCtrl,
    private readonly domid: number,
  ) {
    this.refresh();
  }

  refresh(): void {
    const f = load();
    this.close();
    const k = koffi();
    const minfo = k.alloc('uint8_t', 40);
    const raw = bytesAt(minfo, 40);
    raw.fill(0);
    check(f.mapMeminfo(this.xc.raw, this.domid, minfo) === 0, `xc_map_domain_meminfo(${this.domid})`);
    const v = new DataView(raw.buffer, raw.byteOffset, 40);
    const width = v.getUint32(4, true);
    if (width !== 8) throw new Error(`domain ${this.domid}: ${width * 8}-bit PV guests are not supported`);
    const size = Number(v.getBigUint64(24, true));
    this.table = new BigUint64Array(k.view(v.getBigUint64(16, true), size * 8));
    this.minfo = minfo;
  }

  lookup(pfn: number): bigint | undefined {
    return this.table?.[pfn];
  }

  close(): void {
    if (this.minfo === null) return;
    load().unmapMeminfo(this.xc.raw, this.minfo);
    koffi().free(this.minfo);
    this.minfo = null;
    this.table = undefined;
  }
}
