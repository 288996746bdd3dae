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

  it('orders large snapshots (the radix sort) like the comparison', () => {
    // Every range of sectors, so that each 16-bit digit of the key (up to 2^53) is exercised.
    for (const maxSector of [40, 70_000, 2 ** 33, 2 ** 45, 2 ** 51]) {
      fc.assert(
        fc.property(fc.integer({ min: 4096, max: 12000 }), fc.integer(), (n, seed) => {
          let x = seed >>> 0 || 1;
          const next = (): number => {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            return (x >>> 0) / 2 ** 32;
          };
          const es: Entry[] = [];
          for (let i = 0, p = 0; i < n; i++) {
            p += 1 + Math.floor(next() * 3);
            es.push([p, [0, 3, 51712][Math.floor(next() * 3)]!, Math.floor(next() * maxSector)]);
          }
          expect(snapshotOf(es)).toEqual(reference(es));
        }),
        { numRuns: 3 },
      );
    }
  });
});
