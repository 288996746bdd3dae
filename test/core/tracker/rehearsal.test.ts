/**
 * A rehearsed checkpoint (run between events to keep the cut's code compiled) computes exactly the cut
 * a barrier would take there, rule 9 included, and changes nothing: not the map, not the stats.
 */
import { describe, expect, it } from 'vitest';
import { batchOf } from '../../../core/events/builder.ts';
import { checkpoint, done, FULL, read, track, write } from '../../support/tracker-helpers.ts';

describe('rehearsing a checkpoint', () => {
  it('counts what the next barrier cuts, in-flight exclusions included, and changes nothing', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(1), FULL(2), FULL(3)]),
      done(1),
      read(2, 1, 64, [FULL(4), FULL(5)]),
      done(2),
      // In flight at the barrier: a read into page 5 (mapped) and a write over page 2's sectors.
      read(3, 0, 200, [FULL(5)]),
      write(4, 0, 8, [FULL(9)]),
    ]);
    const before = { ...tracker.stats };
    const map = Array.from(tracker.map.loc);
    expect(tracker.rehearseCheckpoint()).toBe(3); // pages 1, 3 and 4; not 2 (write), 5 (read)
    expect(tracker.rehearseCheckpoint()).toBe(3);
    expect(tracker.stats).toEqual(before);
    expect(Array.from(tracker.map.loc)).toEqual(map);
    const cuts: number[] = [];
    tracker.apply(batchOf([checkpoint('real')]), (c) => cuts.push(c.mapping.length));
    expect(cuts).toEqual([3]);
    expect(tracker.stats.excludedAtCheckpoint).toBe(before.excludedAtCheckpoint + 2);
  });
});
