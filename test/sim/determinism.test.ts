import { describe, expect, it } from 'vitest';
import type { EventBatch } from '../../core/events/batch.ts';
import { simulate, type SimulationOptions } from '../../sim/index.ts';
import { MiB, sameBatches } from './support.ts';

const base: SimulationOptions = {
  guest: 'pv-linux',
  workload: 'kernel-build',
  memBytes: 64 * MiB,
  seed: 42,
  events: 30_000,
  checkpoints: { every: 7_000 },
};

const collect = (batches: Iterable<EventBatch>): EventBatch[] => [...batches];

describe('determinism', () => {
  it('gives identical batches for the same seed and options', () => {
    const a = collect(simulate(base).batches);
    const b = collect(simulate(base).batches);
    expect(a.length).toBeGreaterThan(1);
    expect(sameBatches(a, b)).toBe(true);
  });

  it('gives identical batches when the same iterable is iterated again', () => {
    const sim = simulate({ ...base, guest: 'hvm-windows', workload: 'postmark', events: 20_000 });
    expect(sameBatches(collect(sim.batches), collect(sim.batches))).toBe(true);
  });

  it('gives different streams for different seeds', () => {
    const a = collect(simulate(base).batches);
    const b = collect(simulate({ ...base, seed: 43 }).batches);
    expect(sameBatches(a, b)).toBe(false);
  });

  it('records the options and parameters in the header', () => {
    const { header } = simulate(base);
    expect(header.meta).toMatchObject({
      guest: 'pv-linux',
      workload: 'kernel-build',
      memBytes: 64 * MiB,
      seed: 42,
      events: 30_000,
      checkpoints: { every: 7_000 },
    });
    expect(header.pages).toBe((64 * MiB) / 4096);
    const params = header.meta['params'] as { io: { maxSegments: number }; fs: { blockSize: number } };
    expect(params.io.maxSegments).toBe(11);
    expect(params.fs.blockSize).toBe(4096);
    expect(JSON.parse(JSON.stringify(header))).toEqual(header);
  });
});
