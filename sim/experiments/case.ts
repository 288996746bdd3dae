/**
 * One experiment case: a guest kind running a workload with one seed. The simulation runs once and its
 * event batches are replayed through the core under each delivery mode (the same run, so the schemes
 * differ only in what they do with it). At every checkpoint the images each scheme would write are
 * counted exactly from the format; at the last one of the precise run the baseline and p2b images are
 * really written to local disk and restored, timed and verified byte for byte.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { PRECISE, type Delivery } from '../../core/checkpoint/delivery.ts';
import type { CheckpointRecord } from '../../core/checkpoint/engine.ts';
import type { EventBatch } from '../../core/events/batch.ts';
import { loadHasher } from '../../core/hash.ts';
import { imageBytes, POLICIES, restoreImage, writeImage, type ImagePolicy } from '../../core/image/index.ts';
import type { DiskIdentity } from '../../core/ports.ts';
import { TOKENS } from '../../core/tokens.ts';
import { traceGeometry, type TraceHeader } from '../../core/trace/header.ts';
import { SIM_GUEST, simContainer } from '../../backends/sim/container.ts';
import type { SimGuest } from '../../backends/sim/sim-guest.ts';
import { SymbolicMemory, VerifyingMemory } from '../../backends/sim/symbolic-stores.ts';
import type { GuestKindName } from '../guests/index.ts';
import { readsLandAtCompletion, ReplayWorld } from '../replay/replay-world.ts';
import { simulate } from '../simulation.ts';
import type { WorkloadName } from '../workloads/index.ts';
import { capturedPages, checkMapping, symbolicOracle, zeroPages } from './symbolic-oracle.ts';

export interface CaseSpec {
  readonly guest: GuestKindName;
  readonly workload: WorkloadName;
  readonly seed: number;
  readonly memBytes: number;
  /** Disk size (default: the simulator's, at least 16 GiB). */
  readonly diskBytes?: number;
  /** Run length in events (default: the workload's for this memory size). */
  readonly events?: number;
  /** Periodic checkpoints over the run, the last one at its end. */
  readonly checkpoints: number;
  /** Events per epoch for the epoch (log-dirty style) delivery runs. */
  readonly epochEvents: number;
  /** Write, restore and time the baseline and p2b images at the last checkpoint. */
  readonly measure: boolean;
  /** Where the measured images go (default: the system's temporary directory). */
  readonly scratchDir?: string;
}

/** One scheme's image at one checkpoint: what it holds and what producing it involves. */
export interface SchemeWork {
  readonly bytes: number;
  readonly mapped: number;
  readonly zero: number;
  readonly data: number;
  /** Pages checked for zero content (those not mapped, when the scheme elides zero pages). */
  readonly scanned: number;
}

export const SCHEMES = [
  'baseline',
  'p2b',
  'p2b-epoch',
  'p2b-epoch+revalidate',
  'p2b+zero',
  'oracle',
  'oracle+zero',
] as const;
export type SchemeName = (typeof SCHEMES)[number];

export interface CheckpointRow {
  readonly name: string;
  readonly events: number;
  readonly schemes: Record<SchemeName, SchemeWork>;
  /** Mapped (precise) pages the oracle found too, and the oracle's disk-matched pages. */
  readonly captured: number;
  readonly oraclePages: number;
  /** Mapping entries whose sectors did not hold the page, per delivery (0 unless the tracker errs). */
  readonly demoted: number;
  /** Reads and bytes a p2b restore takes from the disk (sector-ordered, coalesced). */
  readonly restoreDiskReads: number;
  readonly restoreDiskBytes: number;
}

export interface Measured {
  readonly image: 'baseline' | 'p2b';
  readonly bytes: number;
  readonly writeSeconds: number;
  readonly restoreSeconds: number;
  readonly restoreDiskReads: number;
  readonly restoreDiskBytes: number;
  readonly verified: boolean;
  /** The written size equals the size counted from the format. */
  readonly sizeExact: boolean;
}

export interface CaseResult {
  readonly guest: GuestKindName;
  readonly workload: WorkloadName;
  readonly seed: number;
  readonly memBytes: number;
  readonly pages: number;
  readonly events: number;
  readonly checkpoints: CheckpointRow[];
  readonly measured: Measured[];
  /** Wall time of the whole case (simulation, three replays, oracle, measurements). */
  readonly seconds: number;
}

export interface CaseProgress {
  readonly phase: string;
  readonly events: number;
  readonly totalEvents: number;
}

const EPOCH = (n: number, revalidate: boolean): Delivery => ({ kind: 'epoch', epochEvents: n, revalidate });

/** The p2b image as a deployment writes it: it trusts the tracker (the restore proves every page). */
const P2B_TRUSTING: ImagePolicy = { useMap: true, elideZero: false, verifyMapped: false };

export async function runCase(
  spec: CaseSpec,
  onProgress: (p: CaseProgress) => void = () => {},
): Promise<CaseResult> {
  const started = performance.now();
  const base = simulate({
    guest: spec.guest,
    workload: spec.workload,
    memBytes: spec.memBytes,
    seed: spec.seed,
    ...(spec.diskBytes !== undefined ? { diskBytes: spec.diskBytes } : {}),
    ...(spec.events !== undefined ? { events: spec.events } : {}),
  });
  const total = Number(base.header.meta['events']);
  // Periodic checkpoints: the last period ends at the run's end, where the simulator adds "final".
  const every = Math.max(1, Math.ceil(total / spec.checkpoints));
  const sim = simulate({
    guest: spec.guest,
    workload: spec.workload,
    memBytes: spec.memBytes,
    seed: spec.seed,
    checkpoints: { every },
    ...(spec.diskBytes !== undefined ? { diskBytes: spec.diskBytes } : {}),
    ...(spec.events !== undefined ? { events: spec.events } : {}),
  });
  const batches: EventBatch[] = [];
  let generated = 0;
  for (const b of sim.batches) {
    batches.push(b);
    generated += b.length;
    if (batches.length % 8 === 0) onProgress({ phase: 'simulate', events: generated, totalEvents: total });
  }

  const rows: Partial<Record<SchemeName, SchemeWork>>[] = [];
  const extra: Omit<CheckpointRow, 'schemes'>[] = [];
  const measured: Measured[] = [];
  const runs: [SchemeName, Delivery][] = [
    ['p2b', PRECISE],
    ['p2b-epoch', EPOCH(spec.epochEvents, false)],
    ['p2b-epoch+revalidate', EPOCH(spec.epochEvents, true)],
  ];
  for (const [scheme, delivery] of runs) {
    const precise = scheme === 'p2b';
    let index = 0;
    await replayOnce(sim.header, batches, delivery, async (world, record, guest) => {
      const k = index++;
      const isLast = record.cut.name === 'final';
      const shape = shapeOf(record);
      const check = checkMapping(world, record.cut.mapping);
      const row = (rows[k] ??= {});
      const pages = world.pageCount;
      row[scheme] = work(shape, check.mappedPages, 0, 0, pages - check.mappedPages, 0);
      if (precise) {
        const zero = zeroPages(world, check.mapped);
        row.baseline = work(shape, 0, 0, 0, pages, 0);
        row['p2b+zero'] = work(
          shape,
          check.mappedPages,
          zero.pages,
          zero.extents,
          pages - check.mappedPages - zero.pages,
          pages - check.mappedPages,
        );
        const oracle = await symbolicOracle(world);
        const m = oracle.matchedPages;
        row.oracle = work(shape, m, 0, 0, pages - m, 0);
        row['oracle+zero'] = work(
          shape,
          m,
          oracle.zeroPages,
          oracle.zeroExtents,
          pages - m - oracle.zeroPages,
          pages - m,
        );
        extra[k] = {
          name: record.cut.name,
          events: record.cut.seq,
          captured: capturedPages(oracle, check.mapped),
          oraclePages: m,
          demoted: check.demoted,
          restoreDiskReads: check.diskReads,
          restoreDiskBytes: check.diskBytes,
        };
        if (isLast && spec.measure) {
          onProgress({ phase: 'measure', events: total, totalEvents: total });
          measured.push(...(await measure(world, record, guest, row, spec.scratchDir)));
        }
      } else {
        const e = extra[k];
        if (e) extra[k] = { ...e, demoted: e.demoted + check.demoted };
      }
      onProgress({ phase: scheme, events: record.cut.seq, totalEvents: total });
    });
  }
  const checkpoints = rows
    .map((r, k) => {
      for (const s of SCHEMES) if (!r[s]) throw new Error(`checkpoint ${k}: no result for ${s}`);
      return { ...extra[k]!, schemes: r as Record<SchemeName, SchemeWork> };
    })
    // A periodic checkpoint past the run's nominal length lands a few events before "final": drop it.
    .filter((c) => c.name === 'final' || c.events < total);
  return {
    guest: spec.guest,
    workload: spec.workload,
    seed: spec.seed,
    memBytes: spec.memBytes,
    pages: sim.header.pages,
    events: generated,
    checkpoints,
    measured,
    seconds: (performance.now() - started) / 1000,
  };
}

interface Shape {
  readonly disks: readonly DiskIdentity[];
  readonly stateBytes: number;
}

function shapeOf(record: CheckpointRecord): Shape {
  return { disks: record.disks.disks, stateBytes: record.stateBytes };
}

function work(
  s: Shape,
  mapped: number,
  zero: number,
  extents: number,
  data: number,
  scanned: number,
): SchemeWork {
  const bytes = imageBytes({ ...s, pagesMapped: mapped, zeroExtents: extents, pagesData: data });
  return { bytes, mapped, zero, data, scanned };
}

type AtCheckpoint = (world: ReplayWorld, record: CheckpointRecord, guest: SimGuest) => Promise<void>;

/** Replays the batches through the core with no image configured: the hook does the accounting. */
async function replayOnce(
  header: TraceHeader,
  batches: readonly EventBatch[],
  delivery: Delivery,
  atCheckpoint: AtCheckpoint,
): Promise<void> {
  const world = new ReplayWorld(traceGeometry(header), {
    readsLandAtCompletion: readsLandAtCompletion(header.meta),
  });
  // The hook needs the guest the container creates, which exists only once the container does.
  const ref: { guest?: SimGuest } = {};
  const container = await simContainer(
    { world, batches, meta: header.meta },
    {
      delivery,
      images: [],
      imagePath: () => {
        throw new Error('no image is written by the engine in an experiment');
      },
      whilePaused: (record) => atCheckpoint(world, record, ref.guest!),
    },
  );
  ref.guest = container.get<SimGuest>(SIM_GUEST);
  const engine = container.get(TOKENS.CheckpointEngine);
  await lastValueFrom(engine.run().pipe(toArray()), { defaultValue: [] });
}

/** Writes, restores and verifies the baseline and p2b images of this checkpoint on local disk. */
async function measure(
  world: ReplayWorld,
  record: CheckpointRecord,
  guest: SimGuest,
  row: Partial<Record<SchemeName, SchemeWork>>,
  scratch: string | undefined,
): Promise<Measured[]> {
  const dir = mkdtempSync(join(scratch ?? tmpdir(), 'leanckpt-experiment-'));
  const hasher = await loadHasher();
  const state = await guest.saveState();
  const memory = new SymbolicMemory(world);
  const out: Measured[] = [];
  try {
    for (const [image, policy] of [
      ['baseline', POLICIES.baseline],
      ['p2b', P2B_TRUSTING],
    ] as const) {
      const path = join(dir, `${image}.lckpt`);
      const input = { memory, disks: record.disks.disks, state, mapping: record.cut.mapping, hasher };
      const w = await writeImage(path, input, policy);
      const target = new VerifyingMemory(world.memory);
      let verified = true;
      let r = { seconds: 0, diskReads: 0, bytesReadDisk: 0 };
      try {
        r = await restoreImage(path, { memory: target, blocks: record.disks, hasher });
        verified = target.verified;
      } catch {
        verified = false;
      }
      rmSync(path, { force: true });
      out.push({
        image,
        bytes: w.bytes,
        writeSeconds: w.seconds,
        restoreSeconds: r.seconds,
        restoreDiskReads: r.diskReads,
        restoreDiskBytes: r.bytesReadDisk,
        verified,
        sizeExact: w.bytes === row[image]?.bytes,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
