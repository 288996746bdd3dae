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
import { ReplayWorld } from '../../sim/replay/replay-world.ts';

const GEOMETRY = { pageCount: 8, disks: [{ id: 0, sectors: 256 }] };

function world(events: readonly GuestEvent[]): ReplayWorld {
  const w = new ReplayWorld(GEOMETRY);
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
