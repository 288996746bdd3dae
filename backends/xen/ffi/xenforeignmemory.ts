/**
 * libxenforeignmemory (libxenforeignmemory1, soname libxenforeignmemory.so.1; stable ABI): mapping a
 * guest's pages (PV: by machine frame, PVH/HVM: by guest frame) and resources such as its grant table.
 */
import { bytesAt, cfunc, check, isNull, library, requireDevice, type Ptr } from './load.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const Resource = { grantTable: 1 } as const;

interface Fns {
  open(l: Ptr, f: number): Ptr;
  close(h: Ptr): number;
  map(h: Ptr, d: number, prot: number, n: number, arr: BigUint64Array, err: Int32Array): Ptr;
  unmap(h: Ptr, addr: Ptr, n: number): number;
  mapResource(
    h: Ptr,
    d: number,
    type: number,
    id: number,
    frame: number,
    nr: number,
    addr: Ptr[],
    prot: number,
    flags: number,
  ): Ptr;
  unmapResource(h: Ptr, res: Ptr): number;
  resourceSize(h: Ptr, d: number, type: number, id: number, out: bigint[]): number;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const lib = library('libxenforeignmemory.so.1', 'libxenforeignmemory1');
  fns = {
    open: cfunc(lib, 'void *xenforeignmemory_open(void *l, unsigned int f)'),
    close: cfunc(lib, 'int xenforeignmemory_close(void *h)'),
    map: cfunc(
      lib,
      'void *xenforeignmemory_map(void *h, uint32_t d, int prot, size_t n, const uint64_t *arr, _Out_ int *err)',
    ),
    unmap: cfunc(lib, 'int xenforeignmemory_unmap(void *h, void *addr, size_t n)'),
    mapResource: cfunc(
      lib,
      'void *xenforeignmemory_map_resource(void *h, uint16_t d, unsigned int type, unsigned int id, unsigned long frame, unsigned long nr, _Inout_ void **addr, int prot, int flags)',
    ),
    unmapResource: cfunc(lib, 'int xenforeignmemory_unmap_resource(void *h, void *res)'),
    resourceSize: cfunc(
      lib,
      'int xenforeignmemory_resource_size(void *h, uint16_t d, unsigned int type, unsigned int id, _Out_ size_t *size)',
    ),
  };
  return fns;
}

export interface Mapping {
  readonly bytes: Uint8Array;
  unmap(): void;
}

export class ForeignMemory {
  private constructor(
    private readonly f: Fns,
    private readonly h: Ptr,
  ) {}

  static open(): ForeignMemory {
    const f = load();
    requireDevice('/dev/xen/privcmd');
    const h = f.open(null, 0);
    check(!isNull(h), 'xenforeignmemory_open');
    return new ForeignMemory(f, h);
  }

  close(): void {
    this.f.close(this.h);
  }

  /** Maps `frames` read-only (or writable); throws if any frame could not be mapped. */
  map(domid: number, frames: readonly bigint[] | BigUint64Array, prot = PROT_READ): Mapping {
    const arr = frames instanceof BigUint64Array ? frames : BigUint64Array.from(frames);
    const err = new Int32Array(frames.length);
    const addr = this.f.map(this.h, domid, prot, frames.length, arr, err);
    check(!isNull(addr), `xenforeignmemory_map(domain ${domid})`);
    const bad = err.findIndex((e) => e !== 0);
    if (bad >= 0) {
      this.f.unmap(this.h, addr, frames.length);
      throw new Error(`frame ${frames[bad]} of domain ${domid} cannot be mapped (error ${err[bad]})`);
    }
    return {
      bytes: bytesAt(addr, frames.length * 4096),
      unmap: () => void this.f.unmap(this.h, addr, frames.length),
    };
  }

  /** Maps what it can of `frames`; `errors[i]` is 0 or a negative errno for frame i (its page is then unusable). */
  mapSome(
    domid: number,
    frames: readonly bigint[],
    prot = PROT_READ,
  ): Mapping & { readonly errors: Int32Array } {
    const arr = BigUint64Array.from(frames);
    const errors = new Int32Array(frames.length);
    const addr = this.f.map(this.h, domid, prot, frames.length, arr, errors);
    check(!isNull(addr), `xenforeignmemory_map(domain ${domid})`);
    return {
      bytes: bytesAt(addr, frames.length * 4096),
      errors,
      unmap: () => void this.f.unmap(this.h, addr, frames.length),
    };
  }

  /** Bytes of a resource (e.g. the grant table: max_grant_frames * 4096). */
  resourceSize(domid: number, type: number, id: number): number {
    const out = [0n];
    check(this.f.resourceSize(this.h, domid, type, id, out) === 0, 'xenforeignmemory_resource_size');
    return Number(out[0]);
  }

  mapResource(domid: number, type: number, id: number, frames: number, prot = PROT_READ): Mapping {
    const addr: Ptr[] = [null];
    const res = this.f.mapResource(this.h, domid, type, id, 0, frames, addr, prot, 0);
    check(
      !isNull(res) && !isNull(addr[0] ?? null),
      `xenforeignmemory_map_resource(domain ${domid}, type ${type})`,
    );
    return {
      bytes: bytesAt(addr[0] ?? null, frames * 4096),
      unmap: () => void this.f.unmapResource(this.h, res),
    };
  }
}
