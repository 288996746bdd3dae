import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IoDir } from '../../../core/events/batch.ts';
import { InflightTable, type InflightRequest } from '../../../core/tracker/inflight.ts';

interface Spec {
  dir: IoDir;
  start: number;
  len: number;
  pfn: number[];
}

// Sectors across many 2048-sector regions, lengths up to far beyond 16 regions (wide discards).
const spec: fc.Arbitrary<Spec> = fc.record({
  dir: fc.constantFrom<IoDir>(IoDir.Read, IoDir.Write, IoDir.Discard),
  start: fc.oneof(fc.nat({ max: 100_000 }), fc.integer({ min: 2040, max: 2056 })),
  len: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 30_000, max: 60_000 })),
  pfn: fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 4 }),
});

/** Rule 7 by definition, against every request in flight. */
function races(a: InflightRequest, b: InflightRequest): boolean {
  const changesDisk = a.dir !== IoDir.Read || b.dir !== IoDir.Read;
  if (changesDisk && a.start < b.end && b.start < a.end) return true;
  if (a.dir !== IoDir.Read && b.dir !== IoDir.Read) return false;
  return a.pfn.some((p) => b.pfn.includes(p));
}

describe('InflightTable', () => {
  it('marks exactly the racing requests, whatever regions they span', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(spec, fc.boolean()), { maxLength: 60 }), (steps) => {
        const table = new InflightTable(64);
        const live: InflightRequest[] = [];
        const expected = new Map<InflightRequest, boolean>();
        steps.forEach(([s, completeOne], id) => {
          const pfn = s.dir === IoDir.Discard ? [] : s.pfn;
          const req: InflightRequest = {
            id,
            dir: s.dir,
            start: s.start,
            end: s.start + s.len,
            pfn,
            first: pfn.map(() => 0),
            last: pfn.map(() => 7),
            submitSeq: id,
            conflicted: false,
          };
          let mine = req.dir === IoDir.Read && new Set(pfn).size !== pfn.length;
          for (const other of live) {
            if (races(req, other)) {
              mine = true;
              expected.set(other, true);
            }
          }
          expected.set(req, mine);
          table.add(req);
          live.push(req);
          if (completeOne && live.length > 0) table.remove(live.shift()!.id);
        });
        for (const [req, conflicted] of expected) expect(req.conflicted).toBe(conflicted);
        expect(table.size).toBe(live.length);
      }),
      { numRuns: 400 },
    );
  });
});
