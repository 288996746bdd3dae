/**
 * The naive reference: the event model's rules restated as directly as possible, on a plain Map and a
 * list of in-flight requests, with brute-force scans. It shares no code with the tracker.
 */
import type { Segment } from '../../../core/events/batch.ts';

export interface ModelRequest {
  readonly id: number;
  readonly dir: 'read' | 'write' | 'discard';
  readonly disk: number;
  readonly sector: number;
  readonly count: number;
  readonly segs: readonly Segment[];
  readonly writtenPages: Set<number>;
  conflicted: boolean;
}

export interface Place {
  readonly disk: number;
  readonly sector: number;
}

const overlaps = (a: Place, aCount: number, b: Place, bCount: number): boolean =>
  a.disk === b.disk && a.sector < b.sector + bCount && b.sector < a.sector + aCount;

export class NaiveModel {
  readonly map = new Map<number, Place>();
  readonly inflight: ModelRequest[] = [];
  nextId = 1;

  submit(req: Omit<ModelRequest, 'writtenPages' | 'conflicted'>): void {
    const r: ModelRequest = { ...req, writtenPages: new Set(), conflicted: false };
    const pages = r.segs.map((s) => s[0]);
    if (r.dir === 'read' && new Set(pages).size !== pages.length) r.conflicted = true;
    for (const o of this.inflight) {
      const diskRace = (r.dir !== 'read' || o.dir !== 'read') && overlaps(r, r.count, o, o.count);
      const pageRace = (r.dir === 'read' || o.dir === 'read') && o.segs.some((s) => pages.includes(s[0]));
      if (diskRace || pageRace) r.conflicted = o.conflicted = true;
    }
    this.inflight.push(r);
  }

  complete(index: number, ok: boolean): ModelRequest {
    const [r] = this.inflight.splice(index, 1) as [ModelRequest];
    const killSectors = (): void => {
      for (const [pfn, p] of [...this.map]) if (overlaps(p, 8, r, r.count)) this.map.delete(pfn);
    };
    if (!ok || r.conflicted) {
      if (r.dir === 'read') for (const [pfn] of r.segs) this.map.delete(pfn);
      else killSectors();
      return r;
    }
    if (r.dir !== 'read') killSectors();
    let sector = r.sector;
    for (const [pfn, first, last] of r.segs) {
      const full = first === 0 && last === 7;
      if (full && !r.writtenPages.has(pfn)) this.map.set(pfn, { disk: r.disk, sector });
      else if (r.dir === 'read') this.map.delete(pfn);
      sector += last - first + 1;
    }
    return r;
  }

  memWrite(pfns: readonly number[]): void {
    for (const pfn of pfns) {
      this.map.delete(pfn);
      for (const r of this.inflight) if (r.segs.some((s) => s[0] === pfn)) r.writtenPages.add(pfn);
    }
  }

  /** The mappings a checkpoint may use now. */
  checkpointMap(): Map<number, Place> {
    const out = new Map(this.map);
    for (const r of this.inflight) {
      if (r.dir === 'read') for (const [pfn] of r.segs) out.delete(pfn);
      else for (const [pfn, p] of this.map) if (overlaps(p, 8, r, r.count)) out.delete(pfn);
    }
    return out;
  }
}
