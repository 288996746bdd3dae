/**
 * libxenctrl (libxenmisc4.17, soname libxenctrl.so.4.17; ABI tied to Xen 4.17): domain listing,
 * pause, log-dirty, grant table version. Record layouts are those of the 4.17 headers
 * (xc_domaininfo_t: 112 B; xc_hypercall_buffer_t: 40 B).
 */
import { bytesAt, cfunc, check, isNull, koffi, library, requireDevice, type Ptr } from './load.ts';

const SONAME = 'libxenctrl.so.4.17';
const PKG = 'libxenmisc4.17';
const INFO_SIZE = 112;

export const ShadowOp = { Off: 0, EnableLogDirty: 2, Clean: 11, Peek: 12 } as const;

export type DomainKind = 'pv' | 'pvh' | 'hvm';

export interface DomainInfo {
  readonly domid: number;
  readonly kind: DomainKind;
  readonly dying: boolean;
  readonly shutdown: boolean;
  /** SHUTDOWN_* code when shutdown (2 = suspend). */
  readonly shutdownReason: number;
  readonly paused: boolean;
  readonly totPages: number;
  readonly maxPages: number;
  readonly sharedInfoFrame: bigint;
  readonly vcpus: number;
}

/** Decodes one xen_domctl_getdomaininfo record (flags @4, emulation_flags @104 tell PV, PVH, HVM). */
export function decodeDomainInfo(b: Uint8Array, off: number): DomainInfo {
  const v = new DataView(b.buffer, b.byteOffset + off, INFO_SIZE);
  const flags = v.getUint32(4, true);
  const emu = v.getUint32(104, true);
  const hvmGuest = (flags & (1 << 1)) !== 0;
  return {
    domid: v.getUint16(0, true),
    kind: !hvmGuest ? 'pv' : emu === 1 ? 'pvh' : 'hvm',
    dying: (flags & 1) !== 0,
    shutdown: (flags & (1 << 2)) !== 0,
    shutdownReason: (flags >>> 16) & 0xff,
    paused: (flags & (1 << 3)) !== 0,
    totPages: Number(v.getBigUint64(8, true)),
    maxPages: Number(v.getBigUint64(16, true)),
    sharedInfoFrame: v.getBigUint64(48, true),
    vcpus: v.getUint32(64, true),
  };
}

interface Fns {
  open(a: Ptr, b: Ptr, f: number): Ptr;
  close(x: Ptr): number;
  getinfolist(x: Ptr, first: number, max: number, buf: Uint8Array): number;
  maxGpfn(x: Ptr, d: number, out: bigint[]): number;
  shadow(x: Ptr, d: number, op: number, mb: Ptr, mode: number): number;
  logdirty(x: Ptr, d: number, op: number, hb: Ptr, pages: number, mode: number, stats: Ptr): bigint | number;
  hbAlloc(x: Ptr, hb: Ptr, n: number): Ptr;
  hbFree(x: Ptr, hb: Ptr, n: number): void;
  pause(x: Ptr, d: number): number;
  unpause(x: Ptr, d: number): number;
  gnttabVersion(x: Ptr, d: number): number;
  pfnTypes(x: Ptr, d: number, n: number, arr: BigUint64Array): number;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const lib = library(SONAME, PKG);
  fns = {
    open: cfunc(lib, 'void *xc_interface_open(void *a, void *b, unsigned int f)'),
    close: cfunc(lib, 'int xc_interface_close(void *x)'),
    getinfolist: cfunc(
      lib,
      'int xc_domain_getinfolist(void *x, uint32_t first, unsigned int max, _Out_ uint8_t *buf)',
    ),
    maxGpfn: cfunc(lib, 'int xc_domain_maximum_gpfn(void *x, uint32_t d, _Out_ uint64_t *g)'),
    shadow: cfunc(
      lib,
      'int xc_shadow_control(void *x, uint32_t d, unsigned int sop, void *mb, unsigned int mode)',
    ),
    logdirty: cfunc(
      lib,
      'long long xc_logdirty_control(void *x, uint32_t d, unsigned int sop, void *hb, unsigned long pages, unsigned int mode, void *stats)',
    ),
    hbAlloc: cfunc(lib, 'void *xc__hypercall_buffer_alloc_pages(void *x, void *hb, int n)'),
    hbFree: cfunc(lib, 'void xc__hypercall_buffer_free_pages(void *x, void *hb, int n)'),
    pause: cfunc(lib, 'int xc_domain_pause(void *x, uint32_t d)'),
    unpause: cfunc(lib, 'int xc_domain_unpause(void *x, uint32_t d)'),
    gnttabVersion: cfunc(lib, 'int xc_gnttab_get_version(void *x, uint32_t d)'),
    pfnTypes: cfunc(
      lib,
      'int xc_get_pfn_type_batch(void *x, uint32_t d, unsigned int num, _Inout_ uint64_t *arr)',
    ),
  };
  return fns;
}

/** A hypercall-safe bitmap for CLEAN/PEEK (bit pfn%8 of byte pfn/8). */
export interface DirtyBitmap {
  readonly bits: Uint8Array;
  readonly pages: number;
}

export class XenCtrl {
  private constructor(
    private readonly f: Fns,
    private readonly xch: Ptr,
  ) {}

  /** The xc_interface pointer, for the libxenguest calls that take one. */
  get raw(): Ptr {
    return this.xch;
  }

  static open(): XenCtrl {
    const f = load();
    requireDevice('/dev/xen/privcmd');
    const xch = f.open(null, null, 0);
    check(!isNull(xch), 'xc_interface_open');
    return new XenCtrl(f, xch);
  }

  close(): void {
    this.f.close(this.xch);
  }

  domains(): DomainInfo[] {
    const out: DomainInfo[] = [];
    const buf = new Uint8Array(INFO_SIZE * 64);
    for (let first = 0; ;) {
      const n = this.f.getinfolist(this.xch, first, 64, buf);
      check(n >= 0, 'xc_domain_getinfolist');
      for (let i = 0; i < n; i++) out.push(decodeDomainInfo(buf, i * INFO_SIZE));
      if (n < 64) return out;
      first = out[out.length - 1]!.domid + 1;
    }
  }

  /** The domain, or undefined; getinfolist returns domains >= first, so the domid is checked. */
  domain(domid: number): DomainInfo | undefined {
    const buf = new Uint8Array(INFO_SIZE);
    const n = this.f.getinfolist(this.xch, domid, 1, buf);
    if (n !== 1) return undefined;
    const info = decodeDomainInfo(buf, 0);
    return info.domid === domid ? info : undefined;
  }

  /** Guest frames (max gpfn + 1): the size of the log-dirty bitmap and of the save stream's pfn space. */
  gpfns(domid: number): number {
    const out = [0n];
    check(this.f.maxGpfn(this.xch, domid, out) >= 0, 'xc_domain_maximum_gpfn');
    return Number(out[0]) + 1;
  }

  pause(domid: number): void {
    check(this.f.pause(this.xch, domid) === 0, `xc_domain_pause(${domid})`);
  }

  unpause(domid: number): void {
    check(this.f.unpause(this.xch, domid) === 0, `xc_domain_unpause(${domid})`);
  }

  gnttabVersion(domid: number): number {
    return this.f.gnttabVersion(this.xch, domid);
  }

  /**
   * XEN_DOMCTL_getpageframeinfo3: replaces each frame of `frames` by its type word (XEN_DOMCTL_PFINFO_*),
   * XTAB for a frame `domid` does not own. Xen takes at most 1024 frames a call.
   */
  pageTypes(domid: number, frames: BigUint64Array): void {
    for (let at = 0; at < frames.length; at += 1024) {
      // A copy, not a view: what koffi is handed starts at the array's own first byte.
      const part = frames.slice(at, at + 1024);
      check(this.f.pfnTypes(this.xch, domid, part.length, part) === 0, `xc_get_pfn_type_batch(${domid})`);
      frames.set(part, at);
    }
  }

  /** SHADOW_OP_* without a bitmap: 0, or the errno it failed with. */
  shadowControl(domid: number, op: number): number {
    return this.f.shadow(this.xch, domid, op, null, 0) === 0 ? 0 : koffi().errno();
  }

  allocBitmap(pages: number): DirtyBitmap & { readonly hb: Ptr; readonly nr: number } {
    const k = koffi();
    // xc_hypercall_buffer_t, zeroed, ubuf = (void *)-1 as HYPERCALL_BUFFER_INIT_NO_BOUNCE does.
    const hb = k.alloc('uint8_t', 40);
    const raw = bytesAt(hb, 40);
    raw.fill(0);
    new DataView(raw.buffer, raw.byteOffset, 40).setBigUint64(24, 0xffffffffffffffffn, true);
    const nr = Math.ceil(pages / 8 / 4096);
    const mem = this.f.hbAlloc(this.xch, hb, nr);
    check(!isNull(mem), 'xc__hypercall_buffer_alloc_pages');
    return { hb, nr, pages, bits: bytesAt(mem, nr * 4096).subarray(0, Math.ceil(pages / 8)) };
  }

  freeBitmap(b: { readonly hb: Ptr; readonly nr: number }): void {
    this.f.hbFree(this.xch, b.hb, b.nr);
    if (b.hb !== null) koffi().free(b.hb);
  }

  /** CLEAN (or PEEK): fills the bitmap with the pages dirtied since the last CLEAN; errno on failure. */
  logDirty(
    domid: number,
    b: { readonly hb: Ptr; readonly pages: number },
    op: number,
    final = false,
  ): number {
    const rc = Number(this.f.logdirty(this.xch, domid, op, b.hb, b.pages, final ? 1 : 0, null));
    return rc < 0 ? koffi().errno() || -rc : 0;
  }
}
