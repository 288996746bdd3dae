import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IoDir } from '../../../core/events/batch.ts';
import { InflightTable } from '../../../core/tracker/inflight.ts';

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

interface Req {
  readonly id: number;
  readonly dir: IoDir;
  readonly start: number;
  readonly end: number;
  readonly pfn: readonly number[];
}

/** Rule 7 by definition, against every request in flight. */
function races(a: Req, b: Req): boolean {
  const changesDisk = a.dir !== IoDir.Read || b.dir !== IoDir.Read;
  if (changesDisk && a.start < b.end && b.start < a.end) return true;
  if (a.dir !== IoDir.Read && b.dir !== IoDir.Read) return false;
  return a.pfn.some((p) => b.pfn.includes(p));
}

/** `req` added with its segments at an offset in columns shared with other data, as in a batch. */
function addTo(table: InflightTable, req: Req, submitSeq: number): number {
  const pad = req.id % 3;
  const pfn = new Uint32Array([...Array<number>(pad).fill(99), ...req.pfn, 98]);
  const segs = { pfn, first: new Uint8Array(pfn.length), last: new Uint8Array(pfn.length).fill(7) };
  return table.add({ ...req, segs, from: pad, to: pad + req.pfn.length, submitSeq });
}

describe('InflightTable', () => {
  it('marks exactly the racing requests, whatever regions they span', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(spec, fc.boolean()), { maxLength: 60 }), (steps) => {
        const table = new InflightTable(128);
        const live: Req[] = [];
        // Conflicts of requests still in flight, and of those completed (read at completion).
        const expected = new Map<number, boolean>();
        const seen = new Map<number, boolean>();
        const check = (req: Req): void => {
          const slot = table.slotOf(req.id);
          expect(slot).toBeGreaterThanOrEqual(0);
          expect(table.id(slot)).toBe(req.id);
          seen.set(req.id, table.conflicted(slot));
        };
        steps.forEach(([s, completeOne], id) => {
          const req: Req = {
            id,
            dir: s.dir,
            start: s.start,
            end: s.start + s.len,
            pfn: s.dir === IoDir.Discard ? [] : s.pfn,
          };
          let mine = req.dir === IoDir.Read && new Set(req.pfn).size !== req.pfn.length;
          for (const other of live) {
            if (races(req, other)) {
              mine = true;
              expected.set(other.id, true);
            }
          }
          expected.set(req.id, mine);
          expect(table.slotOf(id)).toBe(-1);
          addTo(table, req, id);
          live.push(req);
          if (completeOne && live.length > 0) {
            const done = live.shift()!;
            check(done);
            table.remove(table.slotOf(done.id));
            expect(table.slotOf(done.id)).toBe(-1);
          }
        });
        for (const req of live) check(req);
        for (const [id, conflicted] of expected) expect(seen.get(id)).toBe(conflicted);
        expect(table.size).toBe(live.length);
      }),
      { numRuns: 400 },
    );
  });

  it("reuses freed slots and keeps each request's own columns", () => {
    const table = new InflightTable(64);
    const a = addTo(table, { id: 7, dir: IoDir.Read, start: 0, end: 8, pfn: [1] }, 1);
    const b = addTo(table, { id: 8, dir: IoDir.Write, start: 100, end: 116, pfn: [2, 3] }, 2);
    table.remove(a);
    const c = addTo(table, { id: 9, dir: IoDir.Read, start: 200, end: 208, pfn: [4] }, 3);
    expect(c).toBe(a);
    expect([table.id(c), table.dir(c), table.start(c), table.end(c)]).toEqual([9, IoDir.Read, 200, 208]);
    expect([...table.segments(b).pfn.subarray(table.segFrom(b), table.segTo(b))]).toEqual([2, 3]);
    const slots: number[] = [];
    table.forEachSlot((slot) => slots.push(slot));
    expect(slots.sort()).toEqual([a, b].sort());
  });

  it('taints a page written after the submit, only while a request uses it', () => {
    const table = new InflightTable(64);
    table.noteMemWrite(5, 1);
    const s = addTo(table, { id: 1, dir: IoDir.Read, start: 0, end: 8, pfn: [5] }, 2);
    expect(table.isTainted(s, 5)).toBe(false);
    table.noteMemWrite(5, 3);
    expect(table.isTainted(s, 5)).toBe(true);
    table.remove(s);
    const t = addTo(table, { id: 2, dir: IoDir.Read, start: 0, end: 8, pfn: [5] }, 4);
    expect(table.isTainted(t, 5)).toBe(false);
  });
});
