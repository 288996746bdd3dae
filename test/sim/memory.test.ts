import { describe, expect, it } from 'vitest';
import { Simulator, resolveSimulation, simulate } from '../../sim/index.ts';

const GiB = 2 ** 30;

describe('large guests', () => {
  it('a 16 GiB guest has a header and simulates in modest memory', () => {
    const opts = {
      guest: 'pv-linux',
      workload: 'kernel-build',
      memBytes: 16 * GiB,
      seed: 1,
      events: 20_000,
    } as const;
    const { header } = simulate(opts);
    expect(header.pages).toBe(4 * 1024 * 1024);
    expect(header.disks[0]!.sectors).toBeGreaterThanOrEqual((64 * GiB) / 512);
    const before = process.memoryUsage().arrayBuffers;
    const sim = new Simulator(resolveSimulation(opts));
    let events = 0;
    for (const b of sim.batches()) events += b.length;
    expect(events).toBeGreaterThanOrEqual(20_000);
    expect(sim.byteLength).toBeLessThan(1.5 * GiB);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1.5 * GiB);
  });

  it('generates lazily: the first batches of a very long run come at once', () => {
    const sim = simulate({
      guest: 'hvm-linux',
      workload: 'file-copy',
      memBytes: 256 * 2 ** 20,
      seed: 1,
      events: 1e12,
    });
    const it = sim.batches[Symbol.iterator]();
    const t = performance.now();
    for (let k = 0; k < 3; k++) expect(it.next().done).toBe(false);
    it.return?.();
    expect(performance.now() - t).toBeLessThan(5_000);
  });
});

describe('options', () => {
  it('rejects unknown guest kinds and workloads, and tiny memory', () => {
    expect(() => simulate({ guest: 'nope' as never, workload: 'idle', memBytes: GiB, seed: 1 })).toThrow(
      /guest kind/,
    );
    expect(() => simulate({ guest: 'pv-linux', workload: 'nope' as never, memBytes: GiB, seed: 1 })).toThrow(
      /workload/,
    );
    expect(() => simulate({ guest: 'pv-linux', workload: 'idle', memBytes: 1 << 20, seed: 1 })).toThrow(
      /memBytes/,
    );
    expect(() =>
      simulate({ guest: 'pv-linux', workload: 'idle', memBytes: GiB, seed: 1, fsBlockSize: 2048 as never }),
    ).toThrow(/block size/);
  });

  it('defaults to one checkpoint, at the end', () => {
    const batches = [
      ...simulate({ guest: 'pv-linux', workload: 'idle', memBytes: 64 * 2 ** 20, seed: 1, events: 5_000 })
        .batches,
    ];
    const labels = batches.flatMap((b) => [...b.labels.values()]);
    expect(labels).toEqual(['final']);
  });
});
