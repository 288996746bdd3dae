/**
 * Adopting mappings at a quiet point (a restore read these pages back from the disks and verified
 * them): the adopted mappings then live by the same rules as any other.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryWorld, worldProbe } from '../../../backends/memory/world.ts';
import { batchOf } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { PageBlockTracker, type OfferedMappings } from '../../../core/tracker/tracker.ts';
import { GEOMETRY, checkpoint, cutMappings, dirty, mappings } from '../../support/tracker-helpers.ts';

let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});

/** A world whose pages `entries` hold exactly their disk sectors, as a restore leaves them. */
function restored(entries: readonly [pfn: number, disk: number, sector: number][], revalidate = true) {
  const world = new MemoryWorld({ pageCount: GEOMETRY.pageCount, disks: GEOMETRY.disks });
  for (const [pfn, disk, sector] of entries) world.page(pfn).set(world.sectors(disk, sector, 8));
  const tracker = new PageBlockTracker(world.geometry, {
    revalidate,
    probe: worldProbe(world, hasher.hash64),
  });
  const offer: OfferedMappings = {
    length: entries.length,
    pfn: Uint32Array.from(entries, (e) => e[0]),
    disk: Uint32Array.from(entries, (e) => e[1]),
    sector: Float64Array.from(entries, (e) => e[2]),
  };
  // Epoch delivery as the Xen backend runs it: memory writes reach the tracker as dirty reports.
  const io = () =>
    tracker.apply(batchOf(batchEvents(world.takeEvents()).filter((e) => e.op !== 'mem_write')));
  const report = (...pfns: number[]) => tracker.apply(batchOf([dirty(...pfns)]));
  return { world, tracker, offer, io, report };
}

describe('adopting verified mappings', () => {
  it('maps the offered pages, and a checkpoint then leaves them out like any other', () => {
    const { tracker, offer } = restored([
      [2, 0, 16],
      [5, 1, 63],
    ]);
    expect(tracker.adoptVerifiedMappings(offer)).toEqual({ offered: 2, adopted: 2, rejected: 0 });
    expect(mappings(tracker)).toEqual({ 2: '0:16', 5: '1:63' });
    expect(tracker.stats).toMatchObject({ adopted: 2, adoptionRejected: 0 });
    let cut: Record<number, string> = {};
    tracker.apply(batchOf([checkpoint('save-2')]), (c) => (cut = cutMappings(c)));
    expect(cut).toEqual({ 2: '0:16', 5: '1:63' });
  });

  it('claims the hash it is given, else hashes the disk; both must match the page', () => {
    const { world, tracker, offer } = restored([
      [2, 0, 16],
      [3, 0, 24],
    ]);
    const diskHash = hasher.hash64(world.sectors(0, 16, 8));
    tracker.adoptVerifiedMappings({ ...offer, hash: BigUint64Array.of(diskHash, 12345n) });
    // Page 3's given hash is not its content's: rejected; page 2's is.
    expect(mappings(tracker)).toEqual({ 2: '0:16' });
    expect(tracker.map.hash![2]).toBe(diskHash);
    expect(tracker.stats).toMatchObject({ adopted: 1, adoptionRejected: 1 });
  });

  it('rejects a page that no longer holds what the entry claims (revalidation on)', () => {
    const { world, tracker, offer } = restored([
      [2, 0, 16],
      [3, 0, 24],
    ]);
    world.page(3).fill(0xee, 100, 101); // changed after the restore wrote it (a toolstack fix-up, say)
    expect(tracker.adoptVerifiedMappings(offer)).toEqual({ offered: 2, adopted: 1, rejected: 1 });
    expect(mappings(tracker)).toEqual({ 2: '0:16' });
  });

  it('without revalidation adopts as offered (the caller vouches the guest has not run)', () => {
    const { tracker, offer } = restored([[2, 0, 16]], false);
    expect(tracker.adoptVerifiedMappings(offer).adopted).toBe(1);
    expect(mappings(tracker)).toEqual({ 2: '0:16' });
  });

  it('a guest write to an adopted page kills it at the next epoch; an intact dirty page is kept', () => {
    const { world, tracker, offer, report } = restored([
      [2, 0, 16],
      [3, 0, 24],
    ]);
    tracker.adoptVerifiedMappings(offer);
    world.memWrite([2]);
    report(2, 3);
    expect(mappings(tracker)).toEqual({ 3: '0:24' });
    expect(tracker.stats).toMatchObject({ killedByDirty: 1, keptByRevalidation: 1 });
  });

  it('a disk write or discard over its sectors kills an adopted mapping', () => {
    const { world, tracker, offer, io } = restored([
      [2, 0, 16],
      [3, 0, 24],
      [4, 1, 0],
    ]);
    tracker.adoptVerifiedMappings(offer);
    world.submit(1, 'write', 0, 20, [[9, 0, 3]]); // a sub-page write over sectors 20..23 of page 2
    world.complete(1, true);
    world.submitDiscard(2, 1, 4, 1);
    world.complete(2, true);
    io();
    expect(mappings(tracker)).toEqual({ 3: '0:24' });
    expect(tracker.stats.killedByDiskChange).toBe(2);
  });

  it('is refused while a request is in flight, and changes nothing', () => {
    const { world, tracker, offer, io } = restored([[2, 0, 16]]);
    world.submit(1, 'read', 0, 80, [[7, 0, 7]]);
    io();
    expect(() => tracker.adoptVerifiedMappings(offer)).toThrow(/1 request\(s\) are in flight/);
    expect(mappings(tracker)).toEqual({});
    world.complete(1, true);
    io();
    expect(tracker.adoptVerifiedMappings(offer).adopted).toBe(1);
    expect(mappings(tracker)).toEqual({ 2: '0:16', 7: '0:80' });
  });

  it('refuses a bad offer as a whole: unknown disk, sectors past the end, page out of range', () => {
    const { tracker, offer } = restored([[2, 0, 16]]);
    const bad = (pfn: number, disk: number, sector: number): OfferedMappings => ({
      length: 2,
      pfn: Uint32Array.of(offer.pfn[0]!, pfn),
      disk: Uint32Array.of(0, disk),
      sector: Float64Array.of(16, sector),
    });
    expect(() => tracker.adoptVerifiedMappings(bad(3, 9, 0))).toThrow(/unknown disk 9/);
    expect(() => tracker.adoptVerifiedMappings(bad(3, 0, 250))).toThrow(/outside/);
    expect(() => tracker.adoptVerifiedMappings(bad(99, 0, 0))).toThrow(/page 99 outside/);
    expect(() => tracker.adoptVerifiedMappings({ ...offer, hash: new BigUint64Array(3) })).toThrow(
      /3 hashes for 1 entries/,
    );
    expect(mappings(tracker)).toEqual({});
  });
});
