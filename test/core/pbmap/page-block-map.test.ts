import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageBlockMap } from '../../../core/pbmap/page-block-map.ts';

const PAGES = 32;
type Action =
  | { kind: 'map'; pfn: number; g: number }
  | { kind: 'unmap'; pfn: number }
  | { kind: 'kill'; start: number; len: number };

// Sectors near 0, one and five bucket blocks further (32 buckets of 8 sectors) and on a far disk, so
// slots of different blocks share buckets and queries must tell them apart.
const BASES = [0, 256, 5 * 256 + 8, 2 ** 43];
const near = (max: number): fc.Arbitrary<number> =>
  fc.tuple(fc.constantFrom(...BASES), fc.nat({ max })).map(([base, n]) => base + n);
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), pfn: fc.nat({ max: PAGES - 1 }), g: near(200) }),
  fc.record({ kind: fc.constant('unmap' as const), pfn: fc.nat({ max: PAGES - 1 }) }),
  fc.record({
    kind: fc.constant('kill' as const),
    start: near(210),
    len: fc.integer({ min: 1, max: 300 }),
  }),
);

describe('PageBlockMap', () => {
  it('finds exactly the mappings overlapping any range, like a brute-force scan', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 200 }),
        near(210),
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
          // Short queries visit buckets; long ones (more slots than buckets) scan pages: both must agree.
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

  it('visits a page once when slots of two blocks share a bucket', () => {
    // 16 pages: 16 buckets. Slot 15 (block 0) and slot 30 (block 1, shifted by its hash) collide; a
    // query over slots 15..30 visits that bucket for both slots.
    const map = new PageBlockMap(16, { withHashes: false });
    map.map(0, 15 * 8);
    map.map(1, 30 * 8);
    const seen: number[] = [];
    map.forEachOverlapping(127, 241, (pfn) => seen.push(pfn));
    expect(seen.sort()).toEqual([0, 1]);
    expect(map.unmapOverlapping(127, 241)).toBe(2);
    expect(map.size).toBe(0);
  });

  it('keeps the forward map within 16 bytes per page, hashes included', () => {
    const pages = 1 << 16;
    expect(new PageBlockMap(pages, { withHashes: true }).byteLength.forward / pages).toBeLessThanOrEqual(16);
    expect(new PageBlockMap(pages, { withHashes: false }).byteLength.forward / pages).toBeLessThanOrEqual(8);
  });
});
