/**
 * Benchmark 5: a simulated trace recorded to a binary trace file, then replayed end to end from that
 * file with verification (reader -> replay world -> tracker -> image at every checkpoint -> restore
 * from the disk snapshot -> byte-exact comparison with the guest). Wall time and the process's peak
 * resident memory; the target is that a 16 GiB guest replays within this machine's memory.
 */
import { totalmem } from 'node:os';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PRECISE } from '../core/checkpoint/delivery.ts';
import { openTrace, TraceWriter } from '../core/trace/index.ts';
import { replay } from '../backends/sim/replay.ts';
import { simulate } from '../sim/index.ts';
import { GiB, MiB, row, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = {
  full: { memBytes: 16 * GiB, events: 10_000_000 },
  tiny: { memBytes: 32 * MiB, events: 10_000 },
};

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const size = SIZES[opts.scale];
  const sim = {
    guest: 'pv-linux',
    workload: 'file-copy',
    memBytes: size.memBytes,
    seed: 5,
    events: size.events,
  } as const;
  const dir = join(opts.scratch, 'replay');
  mkdirSync(dir, { recursive: true });
  try {
    opts.log(`replay: recording ${size.events} events of a ${size.memBytes / GiB} GiB guest`);
    const s = simulate(sim);
    const path = join(dir, 'trace.lctrace');
    const writer = await TraceWriter.create(path, s.header);
    for (const batch of s.batches) await writer.write(batch);
    await writer.close();
    const traceBytes = statSync(path).size;

    opts.log('replay: replaying with verification');
    const trace = await openTrace(path);
    const t0 = performance.now();
    const r = await replay(trace.header, trace.batches, { delivery: PRECISE, policy: 'p2b+zero' });
    const wall = (performance.now() - t0) / 1000;
    const peak = process.resourceUsage().maxRSS * 1024;
    const verified = r.checkpoints.length > 0 && r.checkpoints.every((c) => c.verified);
    if (!verified)
      throw new Error(`replay: a checkpoint failed verification: ${JSON.stringify(r.checkpoints)}`);
    const machine = totalmem();
    return [
      {
        name: 'replay',
        params: { ...sim, delivery: 'precise', policy: 'p2b+zero' },
        rows: [
          row('wall time', wall, 's', null, '', 'reported', null),
          row('events/s', r.events / wall, 'ev/s', null, '', 'reported', null),
          row('peak memory (RSS)', peak, 'B', machine, 'machine memory', '<= 1x', peak <= machine),
        ],
        details: {
          events: r.events,
          traceBytes,
          pages: r.pages,
          checkpoints: r.checkpoints.map((c) => ({
            name: c.name,
            mappedPages: c.mappedPages,
            reduction: c.reduction,
            verified: c.verified,
            writeSeconds: c.writeSeconds,
            restoreSeconds: c.restoreSeconds,
          })),
          wallSeconds: wall,
          peakRssBytes: peak,
          machineBytes: machine,
        },
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
