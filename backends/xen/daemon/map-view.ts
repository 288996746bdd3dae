/**
 * The TrackedDomain port's view of a checkpoint cut, and its compact wire form for the control socket
 * (also the form in which `xen restore` hands a new tracking process the pages it read from the disks).
 */
import type { MapSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import type { OfferedMappings } from '../../../core/tracker/tracker.ts';
import type { PageLocation, PageMapView } from '../tracked-domain.ts';

/** Highest pfn indexed by a typed array (256 GiB of guest address space); above it, a Map. */
export const DENSE_PFN_LIMIT = 1 << 26;

export class SnapshotView implements PageMapView {
  /**
   * Entry number + 1 by pfn (0: not mapped): a typed array over pfns up to the highest mapped, 4 bytes
   * a page (64 MiB for a 64 GiB guest). The save looks up every page of the stream here; a Map cost a
   * profiled lab save half a second just to build. A guest with pfns beyond DENSE_PFN_LIMIT gets one.
   */
  private readonly index: Uint32Array | Map<number, number>;

  constructor(readonly snapshot: MapSnapshot) {
    let top = -1;
    for (let i = 0; i < snapshot.length; i++) top = Math.max(top, snapshot.pfn[i]!);
    if (top < DENSE_PFN_LIMIT) {
      const dense = new Uint32Array(top + 1);
      for (let i = 0; i < snapshot.length; i++) dense[snapshot.pfn[i]!] = i + 1;
      this.index = dense;
    } else {
      const sparse = new Map<number, number>();
      for (let i = 0; i < snapshot.length; i++) sparse.set(snapshot.pfn[i]!, i + 1);
      this.index = sparse;
    }
  }

  get size(): number {
    return this.snapshot.length;
  }

  get(pfn: number): PageLocation | undefined {
    const i = ((this.index instanceof Map ? this.index.get(pfn) : this.index[pfn]) ?? 0) - 1;
    if (i < 0) return undefined;
    return { disk: this.snapshot.disk[i]!, sector: this.snapshot.sector[i]! };
  }
}

export interface WireSnapshot {
  readonly length: number;
  readonly pfn: string;
  readonly disk: string;
  readonly sector: string;
}

/** A map with the hash each entry claims (a restore's verified pages): the snapshot's form plus a column. */
export interface WireMappings extends WireSnapshot {
  readonly hash?: string;
}

const b64 = (a: Uint32Array | Float64Array | BigUint64Array): string =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

export function toWire(s: MapSnapshot): WireSnapshot {
  return { length: s.length, pfn: b64(s.pfn), disk: b64(s.disk), sector: b64(s.sector) };
}

export function fromWire(w: WireSnapshot, what = 'map from the tracking process'): MapSnapshot {
  if (!Number.isSafeInteger(w.length) || w.length < 0) throw new Error(`malformed ${what}`);
  const bytes = (text: string, width: number): ArrayBuffer => {
    const buf = Buffer.from(text, 'base64');
    if (buf.length !== w.length * width) throw new Error(`malformed ${what}`);
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  };
  return {
    length: w.length,
    pfn: new Uint32Array(bytes(w.pfn, 4)),
    disk: new Uint32Array(bytes(w.disk, 4)),
    sector: new Float64Array(bytes(w.sector, 8)),
  };
}

export function mappingsToWire(m: OfferedMappings): WireMappings {
  return { ...toWire(m), ...(m.hash ? { hash: b64(m.hash) } : {}) };
}

export function mappingsFromWire(w: WireMappings): OfferedMappings {
  const what = 'mappings to adopt';
  const snapshot = fromWire(w, what);
  if (w.hash === undefined) return snapshot;
  const buf = Buffer.from(w.hash, 'base64');
  if (buf.length !== w.length * 8) throw new Error(`malformed ${what}`);
  return {
    ...snapshot,
    hash: new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)),
  };
}
