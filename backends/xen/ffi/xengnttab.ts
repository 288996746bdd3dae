/**
 * libxengnttab (libxengnttab1, soname libxengnttab.so.1; stable ABI) over /dev/xen/gntdev: mapping the
 * ring pages a frontend granted, and grant copy (xengnttab_grant_copy_segment_t, 24 B: source@0,
 * dest@8 as {virt} or {u32 ref, u16 offset, u16 domid}; u16 len@16, u16 flags@18, i16 status@20).
 */
import { bytesAt, cfunc, check, isNull, library, requireDevice, retryInterrupted, type Ptr } from './load.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from './xenforeignmemory.ts';

export const GNTCOPY = { sourceGref: 1, destGref: 2 } as const;
export const COPY_SEGMENT_SIZE = 24;

interface Fns {
  open(l: Ptr, f: number): Ptr;
  close(h: Ptr): number;
  mapDomainRefs(h: Ptr, count: number, domid: number, refs: Uint32Array, prot: number): Ptr;
  unmap(h: Ptr, addr: Ptr, count: number): number;
  copy(h: Ptr, count: number, segs: Uint8Array): number;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const lib = library('libxengnttab.so.1', 'libxengnttab1');
  fns = {
    open: cfunc(lib, 'void *xengnttab_open(void *l, unsigned int f)'),
    close: cfunc(lib, 'int xengnttab_close(void *h)'),
    mapDomainRefs: cfunc(
      lib,
      'void *xengnttab_map_domain_grant_refs(void *h, uint32_t count, uint32_t domid, uint32_t *refs, int prot)',
    ),
    unmap: cfunc(lib, 'int xengnttab_unmap(void *h, void *addr, uint32_t count)'),
    copy: cfunc(lib, 'int xengnttab_grant_copy(void *h, uint32_t count, _Inout_ uint8_t *segs)'),
  };
  return fns;
}

export class GntTab {
  private retries = 0;
  private readonly retried = { onRetry: () => void this.retries++ };

  private constructor(
    private readonly f: Fns,
    private readonly h: Ptr,
  ) {}

  static open(): GntTab {
    const f = load();
    requireDevice('/dev/xen/gntdev');
    const h = f.open(null, 0);
    check(!isNull(h), 'xengnttab_open');
    return new GntTab(f, h);
  }

  close(): void {
    this.f.close(this.h);
  }

  /** How many calls a signal interrupted, each made again (see retryInterrupted). */
  get interrupted(): number {
    return this.retries;
  }

  /** Maps `refs` of `domid` as one linear, writable mapping (a multi-page ring). */
  mapRefs(domid: number, refs: readonly number[]): Mapping {
    const grants = Uint32Array.from(refs);
    const addr = retryInterrupted(
      () => this.f.mapDomainRefs(this.h, refs.length, domid, grants, PROT_READ | PROT_WRITE),
      isNull,
      this.retried,
    );
    check(!isNull(addr), `xengnttab_map_domain_grant_refs(domain ${domid})`);
    return {
      bytes: bytesAt(addr, refs.length * 4096),
      unmap: () => void this.f.unmap(this.h, addr, refs.length),
    };
  }

  /** Runs `count` encoded copy segments; each segment's status (@20) is written back into `segs`. */
  copy(segs: Uint8Array, count: number): boolean {
    // A copy repeated in whole is harmless: each segment moves the same bytes to the same place.
    return (
      retryInterrupted(
        () => this.f.copy(this.h, count, segs),
        (rc) => rc !== 0,
        this.retried,
      ) === 0
    );
  }
}
