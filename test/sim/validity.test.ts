import { describe, expect, it } from 'vitest';
import { GUEST_KINDS, WORKLOADS, type GuestKindName, type WorkloadName } from '../../sim/index.ts';
import { MiB, run } from './support.ts';

const EVERY = 5_000;
const EVENTS = 20_000;

describe('every guest kind and workload gives a valid stream', () => {
  for (const workload of Object.keys(WORKLOADS) as WorkloadName[]) {
    for (const guest of Object.keys(GUEST_KINDS) as GuestKindName[]) {
      it(`${guest} / ${workload}`, () => {
        // run() feeds every batch to a PageBlockTracker, which throws EventError on an invalid event.
        const r = run({
          guest,
          workload,
          memBytes: 128 * MiB,
          seed: 7,
          events: EVENTS,
          checkpoints: { every: EVERY },
          batchEvents: 8192,
        });
        expect(r.events).toBeGreaterThanOrEqual(EVENTS);
        expect(r.maxBatch).toBeLessThanOrEqual(8192);
        expect(r.checkpointsEndBatches).toBe(true);
        // Periodic checkpoints after every EVERY events, then the final one ending the stream.
        const periodic = r.checkpoints.slice(0, -1);
        expect(periodic.length).toBe(Math.floor((r.events - 1) / (EVERY + 1)));
        periodic.forEach((c, k) => {
          expect(c.name).toBe(`ckpt-${k + 1}`);
          expect(c.index).toBe((k + 1) * (EVERY + 1) - 1);
        });
        expect(r.checkpoints.at(-1)).toMatchObject({ name: 'final', index: r.events - 1 });
        expect(r.counts.reads).toBeGreaterThan(0);
        expect(r.counts.completions).toBeLessThanOrEqual(r.counts.submits);
        expect(r.counts.memWrites).toBeGreaterThan(0);
      });
    }
  }

  it('keeps I/O in flight at checkpoints', () => {
    const r = run({
      guest: 'pv-linux',
      workload: 'file-copy',
      memBytes: 128 * MiB,
      seed: 1,
      events: 60_000,
      checkpoints: { every: 3_000 },
    });
    const busy = r.checkpoints.filter((c) => c.inflight > 0).length;
    expect(busy).toBeGreaterThan(r.checkpoints.length / 2);
  });

  it('fails a request now and then, and never often', () => {
    const r = run({
      guest: 'pv-linux',
      workload: 'file-copy',
      memBytes: 128 * MiB,
      seed: 1,
      events: 60_000,
      failRate: 0.001,
    });
    expect(r.counts.failed).toBeGreaterThan(0);
    expect(r.counts.failed).toBeLessThan(r.counts.completions / 100);
  });
});
