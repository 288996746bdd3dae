/**
 * Benchmark 1: events per second through the full rxjs pipeline into the page-to-block map, against a
 * bare loop over the same typed arrays that does only the map updates those events imply (no
 * validation, no race or in-flight bookkeeping, no statistics). Same process, same batches, best of
 * `runs` alternating runs, so the ratio holds on a noisy machine.
 */
import { from, lastValueFrom } from 'rxjs';
import { IoDir, Op, type EventBatch } from '../core/events/batch.ts';
import type { GuestGeometry } from '../core/ports.ts';
import { DiskSpace } from '../core/pbmap/disk-space.ts';
import { PageBlockMap } from '../core/pbmap/page-block-map.ts';
import { traceGeometry } from '../core/trace/header.ts';
import { trackPageBlocks } from '../core/tracker/operators/track-page-blocks.ts';
import { PageBlockTracker } from '../core/tracker/tracker.ts';
import { simulate } from '../sim/index.ts';
import { GiB, row, seconds, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = {
  full: { events: 10_000_000, memBytes: 4 * GiB, runs: 3 },
  tiny: { events: 10_000, memBytes: 32 * 2 ** 20, runs: 1 },
};

/** The baseline: only the map updates the events imply. */
export function bareLoop(batches: readonly EventBatch[], geometry: GuestGeometry): number {
  const space = new DiskSpace(geometry.disks);
  const map = new PageBlockMap(geometry.pageCount, { withHashes: false });
  // Request id -> its submit, encoded as batch * 2^32 + event index.
  const pending = new Map<number, number>();
  for (let bi = 0; bi < batches.length; bi++) {
    const b = batches[bi]!;
    for (let i = 0; i < b.length; i++) {
      const op = b.op[i];
      if (op === Op.Submit) pending.set(b.id[i]!, bi * 4294967296 + i);
      else if (op === Op.Complete) {
        const at = pending.get(b.id[i]!)!;
        pending.delete(b.id[i]!);
        const sb = batches[Math.floor(at / 4294967296)]!;
        const si = at % 4294967296;
        let g = space.toGlobal(sb.disk[si]!, sb.sector[si]!, sb.count[si]!);
        if (sb.dir[si] !== IoDir.Read) map.unmapOverlapping(g, g + sb.count[si]!);
        for (let k = sb.argStart[si]!; k < sb.argStart[si + 1]!; k++) {
          if (sb.first[k] === 0 && sb.last[k] === 7) map.map(sb.pfn[k]!, g);
          g += sb.last[k]! - sb.first[k]! + 1;
        }
      } else if (op === Op.MemWrite || op === Op.Release) {
        for (let k = b.argStart[i]!; k < b.argStart[i + 1]!; k++) map.unmap(b.pfn[k]!);
      }
    }
  }
  return map.size;
}

export async function pipeline(batches: readonly EventBatch[], geometry: GuestGeometry): Promise<number> {
  const tracker = new PageBlockTracker(geometry);
  await lastValueFrom(from(batches).pipe(trackPageBlocks(tracker)), { defaultValue: null });
  return tracker.map.size;
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const size = SIZES[opts.scale];
  const simOpts = {
    guest: 'pv-linux',
    workload: 'file-copy',
    memBytes: size.memBytes,
    seed: 1,
    events: size.events,
  } as const;
  opts.log(`tracker-throughput: simulating ${size.events} events`);
  const sim = simulate(simOpts);
  const batches: EventBatch[] = [...sim.batches];
  const events = batches.reduce((n, b) => n + b.length, 0);
  const pageArgs = batches.reduce((n, b) => n + b.pfn.length, 0);
  const geometry = traceGeometry(sim.header);
  let bare = Infinity;
  let pipe = Infinity;
  let mappedBare = 0;
  let mappedPipe = 0;
  for (let r = 0; r < size.runs; r++) {
    // Each timed run starts from a collected heap, so none pays for the garbage of the one before.
    globalThis.gc?.();
    bare = Math.min(bare, await seconds(() => (mappedBare = bareLoop(batches, geometry))));
    globalThis.gc?.();
    pipe = Math.min(pipe, await seconds(async () => (mappedPipe = await pipeline(batches, geometry))));
    opts.log(`tracker-throughput: run ${r + 1}: bare ${bare.toFixed(2)} s, pipeline ${pipe.toFixed(2)} s`);
  }
  const pipeRate = events / pipe;
  const bareRate = events / bare;
  return [
    {
      name: 'tracker-throughput',
      params: { ...simOpts, runs: size.runs },
      rows: [
        row('pipeline', pipeRate, 'ev/s', null, '', '>= 10 M ev/s', pipeRate >= 10e6),
        row(
          'pipeline vs bare loop',
          pipeRate,
          'ev/s',
          bareRate,
          'bare loop',
          '>= 0.5x',
          pipeRate >= 0.5 * bareRate,
        ),
      ],
      details: {
        events,
        pageArguments: pageArgs,
        pageArgumentsPerEvent: pageArgs / events,
        bareSeconds: bare,
        pipelineSeconds: pipe,
        // Close but not equal: the tracker maps nothing for racing, failed or torn requests.
        mappedBare,
        mappedPipeline: mappedPipe,
      },
    },
  ];
}
