/**
 * One describe per invalidation rule (docs/invalidation.md), each with the smallest event sequences
 * that show the rule acting. The model-based test covers their interleavings.
 */
import { describe, expect, it } from 'vitest';
import {
  FULL,
  checkpoint,
  cutMappings,
  discard,
  done,
  mappings,
  memWrite,
  read,
  release,
  track,
  write,
} from '../../support/tracker-helpers.ts';

describe('rule 1: a completed full-page read maps the page to its sectors', () => {
  it('maps each full-page segment to its consecutive sectors', () => {
    const { tracker } = track([read(1, 0, 16, [FULL(3), FULL(4)]), done(1)]);
    expect(mappings(tracker)).toEqual({ 3: '0:16', 4: '0:24' });
  });

  it('maps nothing before completion', () => {
    const { tracker } = track([read(1, 0, 16, [FULL(3)])]);
    expect(mappings(tracker)).toEqual({});
  });

  it('re-maps a page read again from elsewhere', () => {
    const { tracker } = track([read(1, 0, 16, [FULL(3)]), done(1), read(2, 0, 80, [FULL(3)]), done(2)]);
    expect(mappings(tracker)).toEqual({ 3: '0:80' });
  });

  it('maps unaligned sectors (a partition starting at sector 63)', () => {
    const { tracker } = track([read(1, 0, 63, [FULL(1)]), done(1)]);
    expect(mappings(tracker)).toEqual({ 1: '0:63' });
  });
});

describe('rule 2: a completed full-page write maps its source and kills overlapping mappings', () => {
  it('maps the source page to the written sectors', () => {
    const { tracker } = track([write(1, 0, 40, [FULL(2)]), done(1)]);
    expect(mappings(tracker)).toEqual({ 2: '0:40' });
  });

  it('kills another page mapped to the same sectors', () => {
    const { tracker } = track([read(1, 0, 40, [FULL(5)]), done(1), write(2, 0, 40, [FULL(2)]), done(2)]);
    expect(mappings(tracker)).toEqual({ 2: '0:40' });
  });

  it('kills partial and unaligned overlaps on both sides', () => {
    const { tracker } = track([
      read(1, 0, 35, [FULL(5)]), // 35..42 overlaps 40..47 at its tail
      read(2, 0, 47, [FULL(6)]), // 47..54 overlaps at its head
      read(3, 0, 48, [FULL(7)]), // 48..55 does not overlap
      read(4, 0, 32, [FULL(8)]), // 32..39 does not overlap
      done(1),
      done(2),
      done(3),
      done(4),
      write(5, 0, 40, [FULL(2)]),
      done(5),
    ]);
    expect(mappings(tracker)).toEqual({ 2: '0:40', 7: '0:48', 8: '0:32' });
  });
});

describe('rule 3: any write or discard kills every mapping overlapping its sectors', () => {
  it('a sub-page write kills the page mapped there and maps nothing', () => {
    const { tracker } = track([read(1, 0, 40, [FULL(5)]), done(1), write(2, 0, 44, [[2, 4, 4]]), done(2)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('a discard kills overlapping mappings only', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(1), FULL(2), FULL(3)]),
      done(1),
      discard(2, 0, 9, 2),
      done(2),
    ]);
    expect(mappings(tracker)).toEqual({ 1: '0:0', 3: '0:16' });
  });

  it('a whole-disk discard kills every mapping on that disk and none on the other', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(1)]),
      read(2, 1, 0, [FULL(2)]),
      done(1),
      done(2),
      discard(3, 0, 0, 256),
      done(3),
    ]);
    expect(mappings(tracker)).toEqual({ 2: '1:0' });
  });

  it('a write with a sub-page segment still maps its full-page segments', () => {
    const { tracker } = track([write(1, 0, 0, [FULL(1), [2, 0, 3]]), done(1)]);
    expect(mappings(tracker)).toEqual({ 1: '0:0' });
  });
});

describe('rule 4: a sub-page read into a page kills its mapping', () => {
  it('kills the mapping of a page partly overwritten from disk', () => {
    const { tracker } = track([read(1, 0, 40, [FULL(5)]), done(1), read(2, 0, 100, [[5, 0, 3]]), done(2)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('maps nothing for two sub-page reads that together fill a page', () => {
    const { tracker } = track([
      read(1, 0, 0, [
        [5, 0, 3],
        [5, 4, 7],
      ]),
      done(1),
    ]);
    expect(mappings(tracker)).toEqual({});
  });
});

describe('rule 5: a memory write or page release kills the page mapping', () => {
  it('a memory write kills only that page', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1), FULL(2)]), done(1), memWrite(1)]);
    expect(mappings(tracker)).toEqual({ 2: '0:8' });
  });

  it('a release kills only that page', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1), FULL(2)]), done(1), release(2)]);
    expect(mappings(tracker)).toEqual({ 1: '0:0' });
  });
});

describe('rule 6: a page written while its request is in flight is not mapped by the completion', () => {
  it('read: the target page written during the request stays unmapped', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1), FULL(2)]), memWrite(1), done(1)]);
    expect(mappings(tracker)).toEqual({ 2: '0:8' });
  });

  it('write: the source page written during the request is not mapped to the sectors', () => {
    const { tracker } = track([write(1, 0, 0, [FULL(1)]), memWrite(1), done(1)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('write: the sectors are still killed for pages mapped there before', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(3)]),
      done(1),
      write(2, 0, 0, [FULL(1)]),
      release(1),
      done(2),
    ]);
    expect(mappings(tracker)).toEqual({});
  });

  it('a write before the submit does not taint the request', () => {
    const { tracker } = track([memWrite(1), read(1, 0, 0, [FULL(1)]), done(1)]);
    expect(mappings(tracker)).toEqual({ 1: '0:0' });
  });

  it('a write during an earlier request on the page does not taint a later one', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(1)]),
      memWrite(1),
      read(2, 0, 64, [FULL(2)]),
      done(1),
      write(3, 0, 128, [FULL(1)]),
      done(3),
      done(2),
    ]);
    expect(mappings(tracker)).toEqual({ 1: '0:128', 2: '0:64' });
  });
});

describe('rule 7: overlapping in-flight requests with an undefined outcome map nothing', () => {
  it('a read and a write overlapping on disk: neither maps, the sectors are killed', () => {
    const { tracker } = track([
      read(9, 0, 200, [FULL(9)]),
      done(9),
      read(1, 0, 196, [FULL(1)]),
      write(2, 0, 200, [FULL(2)]),
      done(2),
      done(1),
    ]);
    expect(mappings(tracker)).toEqual({});
  });

  it('two overlapping writes: neither maps', () => {
    const { tracker } = track([write(1, 0, 0, [FULL(1)]), write(2, 0, 4, [FULL(2)]), done(1), done(2)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('two reads into the same page: neither maps it', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1)]), read(2, 0, 64, [FULL(1)]), done(1), done(2)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('a read into a page that an in-flight write reads from: neither maps', () => {
    const { tracker } = track([write(1, 0, 0, [FULL(1)]), read(2, 0, 64, [FULL(1)]), done(2), done(1)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('overlapping reads, and requests on different disks, do not conflict', () => {
    const { tracker } = track([
      read(1, 0, 0, [FULL(1)]),
      read(2, 0, 4, [FULL(2)]),
      write(3, 1, 0, [FULL(3)]),
      done(1),
      done(2),
      done(3),
    ]);
    expect(mappings(tracker)).toEqual({ 1: '0:0', 2: '0:4', 3: '1:0' });
  });

  it('requests that do not overlap in time do not conflict', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1)]), done(1), write(2, 0, 0, [FULL(2)]), done(2)]);
    expect(mappings(tracker)).toEqual({ 2: '0:0' });
  });
});

describe('rule 8: a failed request maps nothing and kills what it may have touched', () => {
  it('a failed read kills its target pages', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(1)]), done(1), read(2, 0, 64, [FULL(1)]), done(2, false)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('a failed write kills mappings on its sectors and maps nothing', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(3)]), done(1), write(2, 0, 4, [FULL(1)]), done(2, false)]);
    expect(mappings(tracker)).toEqual({});
  });

  it('a failed discard kills mappings on its sectors', () => {
    const { tracker } = track([read(1, 0, 0, [FULL(3)]), done(1), discard(2, 0, 0, 1), done(2, false)]);
    expect(mappings(tracker)).toEqual({});
  });
});

describe('rule 9: at a checkpoint, in-flight I/O makes its pages and sectors undefined', () => {
  it('leaves out a mapped page that an in-flight read targets', () => {
    const { tracker, cuts } = track([
      read(1, 0, 0, [FULL(1)]),
      done(1),
      read(2, 0, 64, [FULL(1)]),
      checkpoint(),
    ]);
    expect(cutMappings(cuts[0]!)).toEqual({});
    expect(mappings(tracker)).toEqual({ 1: '0:0' });
  });

  it('leaves out mappings onto sectors an in-flight write or discard targets', () => {
    const { cuts } = track([
      read(1, 0, 0, [FULL(1), FULL(2), FULL(3)]),
      done(1),
      write(2, 0, 4, [[9, 0, 0]]),
      discard(3, 0, 16, 8),
      checkpoint(),
    ]);
    expect(cutMappings(cuts[0]!)).toEqual({ 2: '0:8' });
  });

  it('keeps the mapping of a page an in-flight write only reads from', () => {
    const { cuts } = track([read(1, 0, 0, [FULL(1)]), done(1), write(2, 0, 64, [FULL(1)]), checkpoint()]);
    expect(cutMappings(cuts[0]!)).toEqual({ 1: '0:0' });
  });

  it('sorts the cut by disk, sector, pfn', () => {
    const { cuts } = track([
      read(1, 1, 0, [FULL(0)]),
      read(2, 0, 8, [FULL(1)]),
      read(3, 0, 0, [FULL(2)]),
      read(4, 0, 8, [FULL(3)]),
      done(1),
      done(2),
      done(3),
      done(4),
      checkpoint(),
    ]);
    const m = cuts[0]!.mapping;
    expect([...m.pfn]).toEqual([2, 1, 3, 0]);
    expect([...m.disk]).toEqual([0, 0, 0, 1]);
    expect([...m.sector]).toEqual([0, 8, 8, 0]);
  });
});

describe('rule 10: several pages may map to the same sectors; disks are independent', () => {
  it('keeps two pages read from the same sectors', () => {
    const { tracker } = track([read(1, 0, 8, [FULL(1)]), done(1), read(2, 0, 8, [FULL(2)]), done(2)]);
    expect(mappings(tracker)).toEqual({ 1: '0:8', 2: '0:8' });
  });

  it('a write to one disk leaves the same sector numbers of another disk alone', () => {
    const { tracker } = track([
      read(1, 0, 8, [FULL(1)]),
      read(2, 1, 8, [FULL(2)]),
      done(1),
      done(2),
      write(3, 1, 8, [FULL(3)]),
      done(3),
    ]);
    expect(mappings(tracker)).toEqual({ 1: '0:8', 3: '1:8' });
  });

  it('an overwrite kills every page mapped to the sectors', () => {
    const { tracker } = track([
      read(1, 0, 8, [FULL(1)]),
      done(1),
      read(2, 0, 8, [FULL(2)]),
      done(2),
      write(3, 0, 8, [[4, 0, 0]]),
      done(3),
    ]);
    expect(mappings(tracker)).toEqual({});
  });
});
