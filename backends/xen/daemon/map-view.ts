/** The TrackedDomain port's view of a checkpoint cut, and its compact wire form for the control socket. */
import type { MapSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import type { PageLocation, PageMapView } from '../tracked-domain.ts';

export class SnapshotView implements PageMapView {
  private readonly index = new Map<number, number>();

  constructor(readonly snapshot: MapSnapshot) {
    for (let i = 0; i < snapshot.length; i++) this.index.set(snapshot.pfn[i]!, i);
  }

  get size(): number {
    return this.snapshot.length;
  }

  get(pfn: number): PageLocation | undefined {
    const i = this.index.get(pfn);
    if (i === undefined) return undefined;
    return { disk: this.snapshot.disk[i]!, sector: this.snapshot.sector[i]! };
  }
}

export interface WireSnapshot {
  readonly length: number;
  readonly pfn: string;
  readonly disk: string;
  readonly sector: string;
}

const b64 = (a: Uint32Array | Float64Array): string =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

export function toWire(s: MapSnapshot): WireSnapshot {
  return { length: s.length, pfn: b64(s.pfn), disk: b64(s.disk), sector: b64(s.sector) };
}

export function fromWire(w: WireSnapshot): MapSnapshot {
  const bytes = (text: string, width: number): ArrayBuffer => {
    const buf = Buffer.from(text, 'base64');
    if (buf.length !== w.length * width) throw new Error('malformed map from the tracking process');
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  };
  return {
    length: w.length,
    pfn: new Uint32Array(bytes(w.pfn, 4)),
    disk: new Uint32Array(bytes(w.disk, 4)),
    sector: new Float64Array(bytes(w.sector, 8)),
  };
}
