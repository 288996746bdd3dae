import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageBlockMap } from '../../../core/pbmap/page-block-map.ts';

const PAGES = 32;
type Action =
  | { kind: 'map'; pfn: number; g: number }
  | { kind: 'unmap'; pfn: number }
  | { kind: 'kill'; start: number; len: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), pfn: fc.nat({ max: PAGES - 1 }), g: fc.nat({ max: 200 }) }),
  fc.record({ kind: fc.constant('unmap' as const), pfn: fc.nat({ max: PAGES - 1 }) }),
  fc.record({
    kind: fc.constant('kill' as const),
    start: fc.nat({ max: 210 }),
    len: fc.integer({ min: 1, max: 40 }),
  }),
);

describe('PageBlockMap', () => {
  it('finds exactly the mappings overlapping any range, like a brute-force scan', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 200 }),
        fc.nat({ max: 210 }),
        fc.integer({ min: 1, max: 3000 }),
        (actions, qs, ql) => {
          const map = new PageBlockMap(PAGES, { withHashes: false });
          const ref = new Map<number, number>();
          for (const a of actions) {
            if (a.kind === 'map') {
              map.map(a.pfn, a.g);
              ref.set(a.pfn, a.g);
            } else if (a.kind === 'unmap') {
              map.unmap(a.pfn);
              ref.delete(a.pfn);
            } else {
              const killed = map.unmapOverlapping(a.start, a.start + a.len);
              let expected = 0;
              for (const [pfn, g] of ref) {
                if (g + 8 > a.start && g < a.start + a.len) {
                  ref.delete(pfn);
                  expected++;
                }
              }
              expect(killed).toBe(expected);
            }
            expect(map.size).toBe(ref.size);
          }
          // Short queries probe slots; long ones (wider than the table) scan pages: both must agree.
          const found: number[] = [];
          map.forEachOverlapping(qs, qs + ql, (pfn) => found.push(pfn));
          const want = [...ref].filter(([, g]) => g + 8 > qs && g < qs + ql).map(([pfn]) => pfn);
          expect(found.sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
          for (let pfn = 0; pfn < PAGES; pfn++) expect(map.loc[pfn]).toBe(ref.get(pfn) ?? -1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the forward map within 16 bytes per page, hashes included', () => {
    const pages = 1 << 16;
    expect(new PageBlockMap(pages, { withHashes: true }).byteLength.forward / pages).toBeLessThanOrEqual(16);
    expect(new PageBlockMap(pages, { withHashes: false }).byteLength.forward / pages).toBeLessThanOrEqual(8);
  });
});
