/**
 * Benchmark 1 of issue 5 (first cut): events per second through the full rxjs pipeline into the
 * page-to-block map, against a bare loop over the same typed arrays that does only the map updates.
 * Both run in the same process on the same batches, so the ratio is meaningful on a noisy machine.
 *
 *   npx tsx bench/tracker-throughput.ts [--events N] [--mem BYTES] [--runs R]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { IoDir, Op, type EventBatch } from '../core/events/batch.ts';
import { PageBlockMap } from '../core/pbmap/page-block-map.ts';
import { DiskSpace } from '../core/pbmap/disk-space.ts';
import { trackPageBlocks } from '../core/tracker/operators/track-page-blocks.ts';
import { PageBlockTracker } from '../core/tracker/tracker.ts';
import { traceGeometry } from '../core/trace/header.ts';
import { simulate } from '../sim/index.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const EVENTS = arg('--events', 2_000_000);
const MEM = arg('--mem', 2 ** 30);
const RUNS = arg('--runs', 3);

const sim = simulate({ guest: 'pv-linux', workload: 'file-copy', memBytes: MEM, seed: 1, events: EVENTS });
const batches: EventBatch[] = [...sim.batches];
const total = batches.reduce((n, b) => n + b.length, 0);
const geometry = traceGeometry(sim.header);

/** The baseline: only the map updates the events imply, no validation, no in-flight bookkeeping. */
function bareLoop(): number {
  const space = new DiskSpace(geometry.disks);
  const map = new PageBlockMap(geometry.pageCount, { withHashes: false });
  const pending = new Map<number, number>(); // id -> event index encoded as batch*2^32+i
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

async function pipeline(): Promise<number> {
  const tracker = new PageBlockTracker(geometry);
  await lastValueFrom(from(batches).pipe(trackPageBlocks(tracker)), { defaultValue: null });
  return tracker.map.size;
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

const results: { run: number; bare: number; pipeline: number }[] = [];
for (let run = 1; run <= RUNS; run++) {
  const bare = time(bareLoop);
  const t0 = performance.now();
  await pipeline();
  const pipe = (performance.now() - t0) / 1000;
  results.push({ run, bare, pipeline: pipe });
}
const best = (k: 'bare' | 'pipeline') => Math.min(...results.map((r) => r[k]));
const summary = {
  benchmark: 'tracker-throughput',
  events: total,
  guestPages: geometry.pageCount,
  runs: RUNS,
  bareEventsPerSecond: total / best('bare'),
  pipelineEventsPerSecond: total / best('pipeline'),
  ratioToBare: best('bare') / best('pipeline'),
  targets: { eventsPerSecond: 10_000_000, ratioToBare: 0.5 },
  node: process.version,
  date: new Date().toISOString(),
};
console.log('| measure | value |\n|---|---:|');
console.log(`| events | ${total} |`);
console.log(`| bare loop | ${(summary.bareEventsPerSecond / 1e6).toFixed(2)} M events/s |`);
console.log(`| rxjs pipeline + tracker | ${(summary.pipelineEventsPerSecond / 1e6).toFixed(2)} M events/s |`);
console.log(`| pipeline / bare | ${summary.ratioToBare.toFixed(2)}x (target >= 0.5x) |`);
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', 'tracker-throughput.json'),
  `${JSON.stringify(summary, null, 2)}\n`,
);
