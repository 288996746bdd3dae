import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotIndex } from '../../../core/pbmap/slot-index.ts';

type Action = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number };

// Few distinct keys, so probe runs collide, wrap and shift; some keys above 2^32 (a second disk).
const key = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 40 }).map((k) => k + 2 ** 40),
);
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.nat({ max: 1000 }) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

describe('SlotIndex', () => {
  it('behaves like a Map under any sequence of sets and deletes, across resizes', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 300 }), (actions) => {
        const index = new SlotIndex(1);
        const ref = new Map<number, number>();
        for (const a of actions) {
          if (a.kind === 'set') {
            index.set(a.key, a.value);
            ref.set(a.key, a.value);
          } else {
            index.delete(a.key);
            ref.delete(a.key);
          }
          expect(index.size).toBe(ref.size);
        }
        for (let k = 0; k <= 40; k++) {
          expect(index.get(k)).toBe(ref.get(k) ?? -1);
          expect(index.get(k + 2 ** 40)).toBe(ref.get(k + 2 ** 40) ?? -1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
