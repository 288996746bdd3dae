/**
 * Benchmark 6: the end-to-end replay (simulated batches, verified checkpoint) at three guest sizes with
 * events in proportion (1, 4 and 16 GiB at full scale). Cost is linear when time grows like size: the slope of
 * log(time) over log(size) is then 1. The target is a slope of at most 1.1 (noise allowance).
 */
import { PRECISE } from '../core/checkpoint/delivery.ts';
import type { EventBatch } from '../core/events/batch.ts';
import { replay } from '../backends/sim/replay.ts';
import { simulate } from '../sim/index.ts';
import { GiB, MiB, row, seconds, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = {
  full: { memBytes: [1 * GiB, 4 * GiB, 16 * GiB], eventsPerGiB: 250_000 },
  tiny: { memBytes: [32 * MiB, 48 * MiB, 64 * MiB], eventsPerGiB: 80_000 },
};

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxy / sxx;
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const size = SIZES[opts.scale];
  const points: { memBytes: number; events: number; seconds: number; secondsPerMillionEvents: number }[] = [];
  for (const memBytes of size.memBytes) {
    const events = Math.round((memBytes / GiB) * size.eventsPerGiB);
    const sim = simulate({ guest: 'pv-linux', workload: 'file-copy', memBytes, seed: 6, events });
    // Simulated up front, so the time is the core's and the replay world's, not the simulator's.
    const batches: EventBatch[] = [...sim.batches];
    const n = batches.reduce((a, b) => a + b.length, 0);
    let verified = false;
    const t = await seconds(async () => {
      const r = await replay(sim.header, batches, { delivery: PRECISE, policy: 'p2b+zero' });
      verified = r.checkpoints.every((c) => c.verified);
    });
    if (!verified)
      throw new Error(`scaling: a checkpoint of the ${memBytes / GiB} GiB guest failed verification`);
    points.push({ memBytes, events: n, seconds: t, secondsPerMillionEvents: (t / n) * 1e6 });
    opts.log(`scaling: ${memBytes / GiB} GiB, ${n} events: ${t.toFixed(2)} s`);
  }
  const exponent = slope(
    points.map((p) => Math.log(p.memBytes)),
    points.map((p) => Math.log(p.seconds)),
  );
  const perGiB = slope(
    points.map((p) => p.memBytes / GiB),
    points.map((p) => p.seconds),
  );
  return [
    {
      name: 'scaling',
      params: {
        guest: 'pv-linux',
        workload: 'file-copy',
        memBytes: size.memBytes,
        eventsPerGiB: size.eventsPerGiB,
      },
      rows: [
        row('log-log slope of time', exponent, '', 1, 'linear', '<= 1.1', exponent <= 1.1),
        row('time per GiB (+ its events)', perGiB, 's', null, '', 'reported', null),
      ],
      details: { points, exponent, secondsPerGiB: perGiB },
    },
  ];
}
