import { batchOf } from '../../core/events/builder.ts';
import type { GuestEvent, Segment } from '../../core/events/batch.ts';
import type { GuestGeometry } from '../../core/ports.ts';
import { PageBlockTracker, type CheckpointCut, type TrackerOptions } from '../../core/tracker/tracker.ts';

export const GEOMETRY: GuestGeometry = {
  pageCount: 16,
  disks: [
    { id: 0, sectors: 256 },
    { id: 1, sectors: 256 },
  ],
};

export const FULL = (pfn: number): Segment => [pfn, 0, 7];

/** A tracker after `events`, with the cuts it produced. */
export function track(
  events: readonly GuestEvent[],
  opts: TrackerOptions = {},
): { tracker: PageBlockTracker; cuts: CheckpointCut[] } {
  const tracker = new PageBlockTracker(GEOMETRY, opts);
  const cuts: CheckpointCut[] = [];
  tracker.apply(batchOf(events), (c) => cuts.push(c));
  return { tracker, cuts };
}

/** The tracker's map as "pfn -> disk:sector" strings, sorted by pfn. */
export function mappings(tracker: PageBlockTracker): Record<number, string> {
  const out: Record<number, string> = {};
  tracker.map.loc.forEach((g, pfn) => {
    if (g < 0) return;
    const { disk, sector } = tracker.space.fromGlobal(g);
    out[pfn] = `${disk}:${sector}`;
  });
  return out;
}

export function cutMappings(cut: CheckpointCut): Record<number, string> {
  const out: Record<number, string> = {};
  for (let i = 0; i < cut.mapping.length; i++)
    out[cut.mapping.pfn[i]!] = `${cut.mapping.disk[i]}:${cut.mapping.sector[i]}`;
  return out;
}

export const read = (id: number, disk: number, sector: number, segs: Segment[]): GuestEvent => ({
  op: 'submit',
  id,
  dir: 'read',
  disk,
  sector,
  segs,
});
export const write = (id: number, disk: number, sector: number, segs: Segment[]): GuestEvent => ({
  op: 'submit',
  id,
  dir: 'write',
  disk,
  sector,
  segs,
});
export const discard = (id: number, disk: number, sector: number, count: number): GuestEvent => ({
  op: 'submit',
  id,
  dir: 'discard',
  disk,
  sector,
  count,
});
export const done = (id: number, ok = true): GuestEvent => ({ op: 'complete', id, ok });
export const memWrite = (...pfns: number[]): GuestEvent => ({ op: 'mem_write', pfns });
export const release = (...pfns: number[]): GuestEvent => ({ op: 'release', pfns });
export const dirty = (...pfns: number[]): GuestEvent => ({ op: 'dirty', pfns });
export const checkpoint = (name = 'c'): GuestEvent => ({ op: 'checkpoint', name });
