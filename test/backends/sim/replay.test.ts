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

describe('replaying a trace that carries its own log-dirty epochs', () => {
  // Epoch 1: pages 0..2 read (their DMA dirties them). Epoch 2: page 1 written by the guest only.
  // Epoch 3: the guest writes page 3 and writes it out. Page 2 is never reported dirty.
  const events = batchOf([
    { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 0, segs: [0, 1, 2].map((p) => [p, 0, 7] as const) },
    { op: 'complete', id: 1, ok: true },
    { op: 'dirty', pfns: [0, 1] },
    { op: 'dirty', pfns: [1] },
    { op: 'submit', id: 2, dir: 'write', disk: 0, sector: 40, segs: [[3, 0, 7]] },
    { op: 'complete', id: 2, ok: true },
    { op: 'dirty', pfns: [3] },
    { op: 'checkpoint', name: 'end' },
  ]);
  const run = (delivery: string) =>
    replay(header, [events], { delivery: parseDelivery(delivery), policy: 'p2b' });

  it('without revalidation, every page a dirty record names loses its mapping', async () => {
    const r = await run('precise');
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: 1, verified: true });
    expect(r.tracker.killedByDirty).toBe(3);
  });

  it('with revalidation, pages whose dirty bit the trace accounts for keep it, as the recording tracker did', async () => {
    const r = await run('precise+revalidate');
    expect(r.delivery).toBe('precise+revalidate');
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: 3, verified: true });
    expect(r.tracker).toMatchObject({ keptByRevalidation: 3, killedByDirty: 1 });
  });

  it('epoch delivery on top adds its own epochs and keeps the same pages', async () => {
    const r = await run('epoch:2+revalidate');
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: 3, verified: true });
  });
});
