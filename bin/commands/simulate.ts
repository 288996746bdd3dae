/**
 * `leanckpt simulate`: the simulator's event stream for a guest kind and workload, optionally recorded
 * as a trace, replayed with verification at every checkpoint.
 */
import type { EventBatch } from '../../core/events/batch.ts';
import { TraceWriter } from '../../core/trace/writer.ts';
import { replay, type ReplayResult } from '../../backends/sim/replay.ts';
import { GUEST_KINDS, WORKLOADS, simulate, type GuestKindName, type WorkloadName } from '../../sim/index.ts';
import type { SimulateCliOptions } from '../cli.ts';
import { EXIT, ExitError } from '../exit-codes.ts';
import { deliveryOf } from '../options.ts';
import { progressBar } from '../progress.ts';

const MAX_MEM = 16 * 2 ** 30;

export function listKinds(): string {
  return (
    `guest kinds: ${Object.keys(GUEST_KINDS).join(', ')}\n` +
    `workloads:   ${Object.keys(WORKLOADS).join(', ')}\n`
  );
}

function checkChoice<T extends string>(what: string, value: string, choices: Record<T, unknown>): T {
  if (!(value in choices)) {
    throw new ExitError(
      `unknown ${what} "${value}"; choose one of: ${Object.keys(choices).join(', ')}`,
      EXIT.usage,
    );
  }
  return value as T;
}

/** Passes batches through while writing them to a trace; the trace is complete only if all passed. */
async function* recorded(batches: Iterable<EventBatch>, writer: TraceWriter): AsyncGenerator<EventBatch> {
  let finished = false;
  try {
    for (const b of batches) {
      await writer.write(b);
      yield b;
    }
    finished = true;
    await writer.close();
  } finally {
    if (!finished) await writer.abort();
  }
}

export async function simulateCommand(opts: SimulateCliOptions): Promise<ReplayResult & { trace?: string }> {
  const guest = checkChoice<GuestKindName>('guest kind', opts.guest, GUEST_KINDS);
  const workload = checkChoice<WorkloadName>('workload', opts.workload, WORKLOADS);
  if (opts.mem > MAX_MEM) throw new ExitError(`--mem must be at most 16G, got ${opts.mem} bytes`, EXIT.usage);
  const sim = simulate({
    guest,
    workload,
    memBytes: opts.mem,
    seed: opts.seed,
    ...(opts.events ? { events: opts.events } : {}),
    checkpoints: opts.checkpointEvery ? { every: opts.checkpointEvery } : {},
  });
  const writer = opts.record ? await TraceWriter.create(opts.record, sim.header) : undefined;
  const batches = writer ? recorded(sim.batches, writer) : sim.batches;
  const bar = progressBar('simulate', undefined, !opts.json);
  try {
    const r = await replay(sim.header, batches, {
      delivery: deliveryOf(opts),
      policy: opts.policy,
      ...(opts.keepImages ? { keepImages: opts.keepImages } : {}),
      onProgress: (p) => bar.update(0, `${p.events} events, ${p.checkpoints} checkpoints`),
    });
    return opts.record ? { ...r, trace: opts.record } : r;
  } finally {
    bar.stop();
  }
}
