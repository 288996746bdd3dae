import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GuestEvent, Segment } from '../../../core/events/batch.ts';
import { BatchBuilder, batchOf } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';

const segment: fc.Arbitrary<Segment> = fc
  .tuple(fc.nat({ max: 1 << 20 }), fc.nat({ max: 7 }), fc.nat({ max: 7 }))
  .map(([p, a, b]) => [p, Math.min(a, b), Math.max(a, b)]);
const pfns = fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 5 });
const event: fc.Arbitrary<GuestEvent> = fc.oneof(
  fc.record({
    op: fc.constant('submit' as const),
    id: fc.nat(),
    dir: fc.constantFrom('read' as const, 'write' as const),
    disk: fc.nat({ max: 70000 }),
    sector: fc.nat({ max: 2 ** 40 }),
    segs: fc.array(segment, { minLength: 1, maxLength: 11 }),
  }),
  fc.record({
    op: fc.constant('submit' as const),
    id: fc.nat(),
    dir: fc.constant('discard' as const),
    disk: fc.nat({ max: 70000 }),
    sector: fc.nat({ max: 2 ** 40 }),
    count: fc.nat({ max: 1 << 30 }),
  }),
  fc.record({ op: fc.constant('complete' as const), id: fc.nat(), ok: fc.boolean() }),
  fc.record({ op: fc.constantFrom('mem_write' as const, 'release' as const, 'dirty' as const), pfns }),
  fc.record({ op: fc.constant('checkpoint' as const), name: fc.string() }),
);

describe('BatchBuilder', () => {
  it('round-trips any event sequence through the columnar batch', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 600, size: 'max' }), (events) => {
        expect(batchEvents(batchOf(events))).toEqual(events);
      }),
      { numRuns: 100 },
    );
  });

  it('starts afresh after build, and copy() reproduces events one by one', () => {
    const b = new BatchBuilder();
    b.memWrite([1, 2]).checkpoint('x');
    const first = b.build();
    b.complete(7, false);
    expect(batchEvents(b.build())).toEqual([{ op: 'complete', id: 7, ok: false }]);
    const copy = new BatchBuilder();
    for (let i = 0; i < first.length; i++) copy.copy(first, i);
    expect(batchEvents(copy.build())).toEqual(batchEvents(first));
  });
});
