import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdTable } from '../../../core/tracker/id-table.ts';

// Ids that collide in the low bits, large ones, and runs of neighbours: the probe runs get long.
const id = fc.oneof(
  fc.nat({ max: 64 }),
  fc.nat({ max: 40 }).map((k) => k * 1024),
  fc.nat({ max: 20 }).map((k) => 2 ** 40 + k * 2 ** 32),
  fc.constant(Number.MAX_SAFE_INTEGER),
);

describe('IdTable', () => {
  it('behaves like a Map under any sequence of inserts and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), id), { maxLength: 400 }), (ops) => {
        const table = new IdTable();
        const ref = new Map<number, number>();
        ops.forEach(([insert, key], step) => {
          if (insert && !ref.has(key)) {
            table.insert(key, step);
            ref.set(key, step);
          } else {
            table.delete(key);
            ref.delete(key);
          }
          expect(table.size).toBe(ref.size);
          expect(table.get(key)).toBe(ref.get(key) ?? -1);
        });
        for (const [key, value] of ref) expect(table.get(key)).toBe(value);
        const values: number[] = [];
        table.forEachValue((v) => values.push(v));
        expect(values.sort((a, b) => a - b)).toEqual([...ref.values()].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('finds nothing for ids never inserted or already deleted', () => {
    const table = new IdTable();
    for (let k = 0; k < 1000; k++) table.insert(k * 16, k);
    for (let k = 0; k < 1000; k += 2) table.delete(k * 16);
    expect(table.size).toBe(500);
    expect(table.get(0)).toBe(-1);
    expect(table.get(16)).toBe(1);
    expect(table.get(17)).toBe(-1);
    expect(table.get(999 * 16)).toBe(999);
  });
});
