/**
 * The replay world's reading of `dirty` records (log-dirty epochs, as a Xen recording has them): a
 * page gets fresh content only if the trace shows no write that accounts for its dirty bit in that
 * epoch. Reads the backend completed in the epoch (Xen marks grant-copy destinations dirty) and
 * writes submitted and completed in it (the guest wrote the page before writing it out) account for
 * it.
 */
import { describe, expect, it } from 'vitest';
import type { GuestEvent } from '../../core/events/batch.ts';
import { batchOf } from '../../core/events/builder.ts';
import { readsLandAtCompletion, ReplayWorld } from '../../sim/replay/replay-world.ts';

const GEOMETRY = { pageCount: 8, disks: [{ id: 0, sectors: 256 }] };

function world(events: readonly GuestEvent[], opts: { readsLandAtCompletion?: boolean } = {}): ReplayWorld {
  const w = new ReplayWorld(GEOMETRY, opts);
  w.apply(batchOf(events));
  return w;
}

/** Whether page `pfn` holds disk 0's sectors `sector .. sector+7`. */
function holds(w: ReplayWorld, pfn: number, sector: number): boolean {
  const disk = w.disks.get(0)!;
  return Array.from(w.page(pfn)).every((seed, j) => seed === disk.get(sector + j));
}

const read = (id: number, pfn: number, sector: number): GuestEvent[] => [
  { op: 'submit', id, dir: 'read', disk: 0, sector, segs: [[pfn, 0, 7]] },
  { op: 'complete', id, ok: true },
];
const dirty = (...pfns: number[]): GuestEvent => ({ op: 'dirty', pfns });

describe('replay world: dirty records as log-dirty epochs', () => {
  it('a page a read filled in the epoch keeps its content; the dirty bit is the DMA', () => {
    const w = world([...read(1, 2, 16), dirty(2)]);
    expect(holds(w, 2, 16)).toBe(true);
  });

  it('a page no I/O of the epoch accounts for gets fresh content (a guest write)', () => {
    const w = world([...read(1, 2, 16), dirty(2), dirty(2)]);
    expect(holds(w, 2, 16)).toBe(false);
  });

  it('an empty dirty record ends an epoch too', () => {
    const w = world([...read(1, 2, 16), dirty(), dirty(2)]);
    expect(holds(w, 2, 16)).toBe(false);
  });

  it('only the pages the I/O touched are accounted for', () => {
    const w = world([...read(1, 2, 16), dirty(2, 3)]);
    expect(holds(w, 2, 16)).toBe(true);
    expect(Array.from(w.page(3)).every((s) => s === 0)).toBe(false);
  });

  it('a page written out in the epoch it was submitted in keeps its content', () => {
    const w = world([
      dirty(5), // the guest's writes of page 5 before this epoch
      { op: 'submit', id: 1, dir: 'write', disk: 0, sector: 40, segs: [[5, 0, 7]] },
      { op: 'complete', id: 1, ok: true },
      dirty(5),
    ]);
    expect(holds(w, 5, 40)).toBe(true);
  });

  it('a write submitted in an earlier epoch does not account for a later dirty bit', () => {
    const w = world([
      { op: 'submit', id: 1, dir: 'write', disk: 0, sector: 40, segs: [[5, 0, 7]] },
      dirty(),
      { op: 'complete', id: 1, ok: true },
      dirty(5),
    ]);
    expect(holds(w, 5, 40)).toBe(false);
  });

  it('a dirty bit on a page while a read into it flies still makes that segment undefined', () => {
    const w = world([
      { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 16, segs: [[2, 0, 7]] },
      dirty(2),
      { op: 'complete', id: 1, ok: true },
    ]);
    expect(holds(w, 2, 16)).toBe(false);
  });

  it('mem_write still gives fresh content whatever I/O the epoch had', () => {
    const w = world([...read(1, 2, 16), { op: 'mem_write', pfns: [2] }, dirty(2)]);
    expect(holds(w, 2, 16)).toBe(false);
  });
});

describe('replay world: a dirty record on the page of a read in flight', () => {
  const LAND = { readsLandAtCompletion: true };
  const flying = (segs: [number, number, number][], ...during: GuestEvent[]): GuestEvent[] => [
    { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 16, segs },
    ...during,
    { op: 'complete', id: 1, ok: true },
  ];

  it('by default (no field in the trace) may be a write during the flight: the segment is torn', () => {
    const w = world(flying([[2, 0, 7]], dirty(2)));
    expect(w.readsLandAtCompletion).toBe(false);
    expect(holds(w, 2, 16)).toBe(false);
  });

  it('when reads land at completion, is a write before the copy: the full page holds its sectors', () => {
    const w = world(flying([[2, 0, 7]], dirty(2)), LAND);
    expect(w.readsLandAtCompletion).toBe(true);
    expect(holds(w, 2, 16)).toBe(true);
  });

  it('of a multi-page read: when reads land at completion every full page is kept, else the named page is torn', () => {
    const w = world(
      flying(
        [
          [2, 0, 7],
          [3, 0, 7],
        ],
        dirty(2),
        dirty(3),
      ),
      LAND,
    );
    expect(holds(w, 2, 16)).toBe(true);
    expect(holds(w, 3, 24)).toBe(true);
    const d = world(
      flying(
        [
          [2, 0, 7],
          [3, 0, 7],
        ],
        dirty(3),
      ),
    );
    expect(holds(d, 2, 16)).toBe(true);
    expect(holds(d, 3, 24)).toBe(false);
  });

  it('a partial segment stays undefined either way: the rest of the page is the write, the copy is unordered with it', () => {
    for (const opts of [{}, LAND]) {
      const w = world(flying([[2, 0, 3]], dirty(2)), opts);
      const disk = w.disks.get(0)!;
      const part = Array.from(w.page(2)).slice(0, 4);
      expect(part.some((seed, j) => seed === disk.get(16 + j))).toBe(false);
    }
  });

  it('a mem_write during the flight still tears the segment: only dirty records are read differently', () => {
    const w = world(flying([[2, 0, 7]], { op: 'mem_write', pfns: [2] }), LAND);
    expect(holds(w, 2, 16)).toBe(false);
  });

  it('a write from the page in flight is still torn by a dirty record on it', () => {
    const w = world(
      [
        { op: 'submit', id: 1, dir: 'write', disk: 0, sector: 40, segs: [[5, 0, 7]] },
        dirty(5),
        { op: 'complete', id: 1, ok: true },
      ],
      LAND,
    );
    const disk = w.disks.get(0)!;
    expect(Array.from(w.page(5)).some((seed, j) => seed === disk.get(40 + j))).toBe(false);
  });

  it('a failed read, or one in flight at a checkpoint, is torn either way', () => {
    const failed = world(
      [
        { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 16, segs: [[2, 0, 7]] },
        dirty(2),
        { op: 'complete', id: 1, ok: false },
      ],
      LAND,
    );
    expect(holds(failed, 2, 16)).toBe(false);
    const cut = world(
      [
        { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 16, segs: [[2, 0, 7]] },
        dirty(2),
        { op: 'checkpoint', name: 'c' },
      ],
      LAND,
    );
    expect(holds(cut, 2, 16)).toBe(false);
  });

  it("is selected by the header meta's readsLandAtCompletion: true, and by nothing else", () => {
    expect(readsLandAtCompletion({ source: 'xen', readsLandAtCompletion: true })).toBe(true);
    expect(readsLandAtCompletion({ source: 'xen' })).toBe(false);
    expect(readsLandAtCompletion({ readsLandAtCompletion: 'yes' })).toBe(false);
    expect(readsLandAtCompletion({})).toBe(false);
  });
});
