import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replay } from '../../../backends/sim/replay.ts';
import { parseDelivery } from '../../../core/checkpoint/delivery.ts';
import { batchOf } from '../../../core/events/builder.ts';
import { makeHeader } from '../../../core/trace/header.ts';
import { randomEvents, SMALL_GUEST } from '../../support/random-events.ts';

const header = makeHeader(SMALL_GUEST.pages, SMALL_GUEST.disks, { source: 'test' });

describe('replay with verification', () => {
  it('verifies every checkpoint of a simple stream and counts what it left out', async () => {
    const events = batchOf([
      {
        op: 'submit',
        id: 1,
        dir: 'read',
        disk: 0,
        sector: 0,
        segs: [
          [0, 0, 7],
          [1, 0, 7],
          [2, 0, 7],
        ],
      },
      { op: 'complete', id: 1, ok: true },
      { op: 'mem_write', pfns: [1] },
      { op: 'checkpoint', name: 'one' },
    ]);
    const r = await replay(header, [events], { delivery: parseDelivery('precise'), policy: 'p2b+zero' });
    expect(r.checkpoints).toHaveLength(1);
    const c = r.checkpoints[0]!;
    expect(c).toMatchObject({
      name: 'one',
      pages: 12,
      mappedPages: 2,
      zeroPages: 9,
      dataPages: 1,
      verified: true,
    });
    expect(c.imageBytes).toBeLessThan(c.baselineBytes);
  });

  for (const mode of ['precise', 'epoch:3', 'epoch:3+revalidate']) {
    it(`verifies every checkpoint of random streams under ${mode} delivery`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat(1000), { minLength: 5, maxLength: 120 }), async (choices) => {
          const r = await replay(header, [batchOf(randomEvents(choices))], {
            delivery: parseDelivery(mode),
            policy: 'p2b',
          });
          for (const c of r.checkpoints) {
            expect(c.failure).toBeUndefined();
            expect(c.verified).toBe(true);
            expect(c.demotedPages).toBe(0);
          }
        }),
        { numRuns: 200 },
      );
    });
  }
});
