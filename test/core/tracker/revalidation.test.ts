/**
 * Epoch delivery and hash revalidation on real bytes: the tracker learns of memory writes late, so
 * only the hashes can tell whether a page reported dirty still equals the disk it is mapped to.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryWorld, worldProbe } from '../../../backends/memory/world.ts';
import { batchOf } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { PageBlockTracker } from '../../../core/tracker/tracker.ts';
import { GEOMETRY, dirty, mappings } from '../../support/tracker-helpers.ts';

let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});

/** A world and a tracker that sees the world's I/O at once but its memory writes only when told. */
function setup(revalidate: boolean) {
  const world = new MemoryWorld({ pageCount: GEOMETRY.pageCount, disks: GEOMETRY.disks });
  const tracker = new PageBlockTracker(world.geometry, {
    revalidate,
    probe: worldProbe(world, hasher.hash64),
  });
  // Epoch delivery: the world's MemWrite events are dropped; only `report` (a dirty event) tells.
  const io = () =>
    tracker.apply(batchOf(batchEvents(world.takeEvents()).filter((e) => e.op !== 'mem_write')));
  const report = (...pfns: number[]) => tracker.apply(batchOf([dirty(...pfns)]));
  return { world, tracker, io, report };
}

describe('epoch delivery', () => {
  it('kills a mapping reported dirty when revalidation is off, even if the content is intact', () => {
    const { world, tracker, io, report } = setup(false);
    world.submit(1, 'read', 0, 0, [[3, 0, 7]]);
    world.complete(1, true);
    io();
    report(3);
    expect(mappings(tracker)).toEqual({});
    expect(tracker.stats.killedByDirty).toBe(1);
  });
});

describe('hash revalidation', () => {
  it('keeps a page reported dirty whose content still equals its sectors (DMA-only dirtying)', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 0, [[3, 0, 7]]);
    world.complete(1, true);
    io();
    report(3);
    expect(mappings(tracker)).toEqual({ 3: '0:0' });
    expect(tracker.stats.keptByRevalidation).toBe(1);
  });

  it('kills a page reported dirty whose content changed', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 0, [[3, 0, 7]]);
    world.complete(1, true);
    world.memWrite([3]);
    io();
    report(3);
    expect(mappings(tracker)).toEqual({});
  });

  it('claims the hash of the disk: a page written after the transfer but before completion dies', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 0, [[3, 0, 7]]);
    world.transfer(1, 0);
    world.memWrite([3]); // unseen until the epoch ends
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({ 3: '0:0' }); // the tracker cannot know yet
    report(3);
    expect(mappings(tracker)).toEqual({});
  });

  it('keeps a page written before the transfer: the DMA overwrote the write', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 0, [[3, 0, 7]]);
    world.memWrite([3]);
    world.transfer(1, 0);
    world.complete(1, true);
    io();
    report(3);
    expect(mappings(tracker)).toEqual({ 3: '0:0' });
  });

  it('a dirty report counts as a write for requests in flight on the page (rule 6)', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'write', 0, 0, [[3, 0, 7]]);
    io();
    report(3);
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({});
  });

  it('needs a content probe', () => {
    expect(() => new PageBlockTracker(GEOMETRY, { revalidate: true })).toThrow(/probe/);
  });
});

describe('rule 6 with hash revalidation: a read tainted in flight is mapped iff its page matches', () => {
  it('maps a read whose page only our own DMA dirtied before the completion (epoch ended mid-flight)', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 8, [[3, 0, 7]]);
    io();
    world.transfer(1, 0); // the grant copy sets the page's dirty bit
    report(3); // the epoch ends before the completion event: page 3 counts as written (rule 6)
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({ 3: '0:8' });
    expect(tracker.stats).toMatchObject({ taintedSegments: 1, taintedKeptByRevalidation: 1 });
  });

  it('maps it when the guest wrote the page before the DMA overwrote it', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 8, [[3, 0, 7]]);
    io();
    world.memWrite([3]);
    report(3);
    world.complete(1, true); // the data moves now, over the guest's write
    io();
    expect(mappings(tracker)).toEqual({ 3: '0:8' });
  });

  it('does not map a page the guest wrote after the DMA (different content)', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 8, [
      [3, 0, 7],
      [4, 0, 7],
    ]);
    io();
    world.transfer(1, 0);
    world.transfer(1, 1);
    world.memWrite([3]); // a real guest write mid-flight
    report(3, 4);
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({ 4: '0:16' });
    expect(tracker.stats).toMatchObject({ taintedSegments: 2, taintedKeptByRevalidation: 1 });
  });

  it('a mapping kept that way still dies when the guest writes the page later', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'read', 0, 8, [[3, 0, 7]]);
    io();
    report(3);
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({ 3: '0:8' });
    world.memWrite([3]);
    report(3);
    expect(mappings(tracker)).toEqual({});
  });

  it('a page that cannot be read stays unmapped', () => {
    const world = new MemoryWorld({ pageCount: GEOMETRY.pageCount, disks: GEOMETRY.disks });
    const probe = worldProbe(world, hasher.hash64);
    // An unreadable page hashes unlike its claim, whatever the claim is (the Xen probe's contract).
    const claimed: { of?: (pfn: number) => bigint } = {};
    const tracker = new PageBlockTracker(world.geometry, {
      revalidate: true,
      probe: { ...probe, hashPage: (pfn: number): bigint => claimed.of!(pfn) ^ 1n },
    });
    claimed.of = (pfn) => tracker.map.hash![pfn] ?? 0n;
    world.submit(1, 'read', 0, 8, [[3, 0, 7]]);
    tracker.apply(world.takeEvents());
    tracker.apply(batchOf([dirty(3)]));
    world.complete(1, true);
    tracker.apply(world.takeEvents());
    expect(mappings(tracker)).toEqual({});
  });

  it('without revalidation (precise delivery) the tainted page stays unmapped, matching or not', () => {
    const { world, tracker, io, report } = setup(false);
    world.submit(1, 'read', 0, 8, [[3, 0, 7]]);
    io();
    report(3);
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({});
    expect(tracker.stats).toMatchObject({ taintedSegments: 1, taintedKeptByRevalidation: 0 });
  });

  it('a tainted write is still not mapped (its source page may have changed under the DMA)', () => {
    const { world, tracker, io, report } = setup(true);
    world.submit(1, 'write', 0, 8, [[3, 0, 7]]);
    io();
    report(3);
    world.complete(1, true);
    io();
    expect(mappings(tracker)).toEqual({});
  });
});
