/** Helpers for the simulator tests: run a simulation through the tracker and collect what the tests check. */
import { IoDir, Op, type EventBatch } from '../../core/events/batch.ts';
import { traceGeometry } from '../../core/trace/header.ts';
import { PageBlockTracker } from '../../core/tracker/tracker.ts';
import { Simulator, resolveSimulation, type SimulationOptions } from '../../sim/index.ts';

export const MiB = 2 ** 20;

export interface RunSummary {
  readonly sim: Simulator;
  readonly tracker: PageBlockTracker;
  readonly events: number;
  readonly batches: number;
  /** Global index of every checkpoint event, and its name. */
  readonly checkpoints: { index: number; name: string; inflight: number }[];
  /** Largest batch, and whether every checkpoint ended its batch. */
  readonly maxBatch: number;
  readonly checkpointsEndBatches: boolean;
  readonly counts: StreamCounts;
}

export interface StreamCounts {
  submits: number;
  reads: number;
  writes: number;
  discards: number;
  completions: number;
  failed: number;
  memWrites: number;
  releases: number;
  /** Reads whose sectors lie in the file system (page cache and O_DIRECT) / in the swap area. */
  fsReads: number;
  swapReads: number;
  swapWrites: number;
  /** Read/write requests starting off a 4 KiB boundary, and segments of less than a page. */
  unalignedRequests: number;
  subPageSegments: number;
}

export function emptyCounts(): StreamCounts {
  return {
    submits: 0,
    reads: 0,
    writes: 0,
    discards: 0,
    completions: 0,
    failed: 0,
    memWrites: 0,
    releases: 0,
    fsReads: 0,
    swapReads: 0,
    swapWrites: 0,
    unalignedRequests: 0,
    subPageSegments: 0,
  };
}

/** Runs `opts` through a PageBlockTracker (which throws on any invalid event) and summarises the stream. */
export function run(opts: SimulationOptions): RunSummary {
  const sim = new Simulator(resolveSimulation(opts));
  const tracker = new PageBlockTracker(traceGeometry(sim.header));
  const layout = sim.config.layout;
  const counts = emptyCounts();
  const checkpoints: RunSummary['checkpoints'] = [];
  let events = 0;
  let batches = 0;
  let maxBatch = 0;
  let endsOk = true;
  for (const b of sim.batches()) {
    batches++;
    maxBatch = Math.max(maxBatch, b.length);
    for (let i = 0; i < b.length; i++) {
      if (b.op[i] === Op.Checkpoint && i !== b.length - 1) endsOk = false;
    }
    count(b, counts, layout.swapStart, layout.swapStart + layout.swapSectors);
    const base = events;
    let i = 0;
    tracker.apply(b, (cut) => {
      while (b.op[i] !== Op.Checkpoint) i++;
      checkpoints.push({ index: base + i, name: cut.name, inflight: tracker.inflightCount });
      i++;
    });
    events += b.length;
  }
  return { sim, tracker, events, batches, checkpoints, maxBatch, checkpointsEndBatches: endsOk, counts };
}

export function count(b: EventBatch, c: StreamCounts, swapStart: number, swapEnd: number): void {
  for (let i = 0; i < b.length; i++) {
    switch (b.op[i]) {
      case Op.Submit: {
        c.submits++;
        const dir = b.dir[i];
        if (dir === IoDir.Discard) {
          c.discards++;
          break;
        }
        const s = b.sector[i]!;
        const inSwap = s >= swapStart && s < swapEnd;
        if (dir === IoDir.Read) {
          c.reads++;
          if (inSwap) c.swapReads++;
          else c.fsReads++;
        } else {
          c.writes++;
          if (inSwap) c.swapWrites++;
        }
        if (s % 8 !== 0) c.unalignedRequests++;
        for (let k = b.argStart[i]!; k < b.argStart[i + 1]!; k++) {
          if (b.first[k] !== 0 || b.last[k] !== 7) c.subPageSegments++;
        }
        break;
      }
      case Op.Complete:
        c.completions++;
        if (b.dir[i] === 0) c.failed++;
        break;
      case Op.MemWrite:
        c.memWrites++;
        break;
      case Op.Release:
        c.releases++;
        break;
    }
  }
}

/** Whether two batch sequences hold exactly the same events. */
export function sameBatches(a: readonly EventBatch[], b: readonly EventBatch[]): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) {
    const x = a[j]!;
    const y = b[j]!;
    if (x.length !== y.length) return false;
    const cols = ['op', 'id', 'dir', 'disk', 'sector', 'count', 'argStart', 'pfn', 'first', 'last'] as const;
    for (const c of cols) {
      const u = x[c];
      const v = y[c];
      if (u.length !== v.length) return false;
      for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
    }
    if (JSON.stringify([...x.labels]) !== JSON.stringify([...y.labels])) return false;
  }
  return true;
}
