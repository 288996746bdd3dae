import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortedSnapshot } from '../../../core/pbmap/map-snapshot.ts';

type Entry = [pfn: number, disk: number, sector: number];

function reference(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((a, b) => a[1] - b[1] || a[2] - b[2] || a[0] - b[0]);
}

function snapshotOf(entries: readonly Entry[]): Entry[] {
  const s = sortedSnapshot(
    Uint32Array.from(entries, (e) => e[0]),
    Uint32Array.from(entries, (e) => e[1]),
    Float64Array.from(entries, (e) => e[2]),
  );
  return Array.from(s.pfn, (p, i): Entry => [p, s.disk[i]!, s.sector[i]!]);
}

const entries = (pfns: fc.Arbitrary<number[]>, maxSector: number): fc.Arbitrary<Entry[]> =>
  pfns.chain((ps) =>
    fc.tuple(
      ...ps.map((p) =>
        fc.tuple(fc.constant(p), fc.constantFrom(0, 3, 51712), fc.integer({ min: 0, max: maxSector })),
      ),
    ),
  );

describe('sortedSnapshot', () => {
  it('orders by (disk, sector, pfn), with ascending pfns (the tracker) and in any order', () => {
    const ascending = fc
      .uniqueArray(fc.nat({ max: 5000 }), { maxLength: 60 })
      .map((a) => a.sort((x, y) => x - y));
    const shuffled = fc.uniqueArray(fc.nat({ max: 5000 }), { maxLength: 60 });
    for (const pfns of [ascending, shuffled]) {
      for (const maxSector of [40, 2 ** 45]) {
        fc.assert(
          fc.property(entries(pfns, maxSector), (es) => {
            expect(snapshotOf(es)).toEqual(reference(es));
          }),
          { numRuns: 150 },
        );
      }
    }
  });
});
