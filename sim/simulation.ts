/**
 * The deterministic guest simulator: a guest kind (sim/guests) running a workload (sim/workloads) on
 * the OS model (sim/os), producing the event stream a hypervisor would see. Batches are generated as
 * they are consumed; the same options give the same stream.
 */
import type { EventBatch } from '../core/events/batch.ts';
import { makeHeader, type TraceHeader } from '../core/trace/header.ts';
import { GUEST_KINDS, type GuestKindName } from './guests/index.ts';
import { Emitter, type EmitStats } from './os/emitter.ts';
import { diskLayout, type DiskLayout } from './os/fs.ts';
import { GuestOs } from './os/kernel.ts';
import { mergeParams, type DeepPartial, type GuestParams } from './os/params.ts';
import { Prng } from './prng.ts';
import { WORKLOADS, type WorkloadName } from './workloads/index.ts';

export const SIMULATOR_VERSION = 1;
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const DEFAULT_BATCH = 65536;

export interface SimulationOptions {
  readonly guest: GuestKindName;
  readonly workload: WorkloadName;
  /** Guest memory in bytes (whole 4 KiB pages; 64 MiB .. 16 GiB is the intended range). */
  readonly memBytes: number;
  /** Disk size; default max(16 GiB, 4 x memory) plus the swap partition. */
  readonly diskBytes?: number;
  readonly seed: number;
  /**
   * Checkpoint schedule. `every`: a checkpoint after every `every` events (periodic, named ckpt-1,
   * ckpt-2, ...). Whatever the schedule, the stream ends with a checkpoint named "final".
   */
  readonly checkpoints?: { readonly every?: number };
  /** Run length in events (the run stops at the end of the guest operation that reaches it). */
  readonly events?: number;
  /** File system block size (default: the guest kind's, 4096). */
  readonly fsBlockSize?: 1024 | 4096;
  /** First sector of the file system partition: 2048 (aligned) or 63 (DOS layout). */
  readonly partitionStart?: number;
  /** Swap size in bytes (default: the guest kind's fraction of memory). */
  readonly swapBytes?: number;
  /** Self-ballooning on or off (only guests with a balloon driver; default: the guest kind's). */
  readonly balloon?: boolean;
  /** Probability that a request fails (default: the guest kind's). */
  readonly failRate?: number;
  /** Report a page's writes once per epoch and I/O, as write protection does (default true). */
  readonly coalesceWrites?: boolean;
  /** Most events per batch (default 65536). */
  readonly batchEvents?: number;
  /** Any other guest parameter. */
  readonly params?: DeepPartial<GuestParams>;
}

export interface Simulation {
  readonly header: TraceHeader;
  /** The event stream; each iteration runs the simulation afresh (and identically). */
  readonly batches: Iterable<EventBatch>;
}

/** Options with every default filled in. */
export interface ResolvedSimulation {
  readonly guest: GuestKindName;
  readonly workload: WorkloadName;
  readonly memBytes: number;
  readonly pages: number;
  readonly diskBytes: number;
  readonly swapBytes: number;
  readonly seed: number;
  readonly events: number;
  readonly every: number;
  readonly batchEvents: number;
  readonly coalesceWrites: boolean;
  readonly params: GuestParams;
  readonly layout: DiskLayout;
}

export function resolveSimulation(o: SimulationOptions): ResolvedSimulation {
  const kind = GUEST_KINDS[o.guest];
  if (!kind)
    throw new RangeError(
      `unknown guest kind "${o.guest}"; choose one of ${Object.keys(GUEST_KINDS).join(', ')}`,
    );
  const workload = WORKLOADS[o.workload];
  if (!workload)
    throw new RangeError(
      `unknown workload "${o.workload}"; choose one of ${Object.keys(WORKLOADS).join(', ')}`,
    );
  if (!Number.isFinite(o.memBytes) || o.memBytes < 32 * MiB)
    throw new RangeError(`memBytes must be at least 32 MiB, got ${o.memBytes}`);
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`seed must be a safe integer, got ${o.seed}`);
  const over: DeepPartial<GuestParams> = {
    ...o.params,
    io: { ...o.params?.io, ...(o.failRate !== undefined ? { failRate: o.failRate } : {}) },
    fs: {
      ...o.params?.fs,
      ...(o.fsBlockSize !== undefined ? { blockSize: o.fsBlockSize } : {}),
      ...(o.partitionStart !== undefined ? { partitionStart: o.partitionStart } : {}),
    },
    mem: { ...o.params?.mem, ...(o.balloon !== undefined ? { balloon: o.balloon } : {}) },
  };
  const params = mergeParams(kind.params, over);
  if (params.fs.blockSize !== 1024 && params.fs.blockSize !== 4096) {
    throw new RangeError(`file system block size must be 1024 or 4096, got ${params.fs.blockSize}`);
  }
  const io = params.io;
  if (io.chunkSectors % 8 !== 0 || io.chunkSectors < 0) {
    throw new RangeError(`io.chunkSectors must be a multiple of 8, got ${io.chunkSectors}`);
  }
  if (!(io.maxSegments >= 1 && io.ringDepth >= 1 && io.maxDiscardSectors >= 8)) {
    throw new RangeError(
      'io.maxSegments and io.ringDepth must be at least 1, io.maxDiscardSectors at least 8',
    );
  }
  if (!Number.isInteger(params.fs.partitionStart) || params.fs.partitionStart < 1) {
    throw new RangeError(`partitionStart must be a positive sector number, got ${params.fs.partitionStart}`);
  }
  const pages = Math.floor(o.memBytes / 4096);
  const memBytes = pages * 4096;
  const swapBytes = Math.floor((o.swapBytes ?? memBytes * params.mem.swapFraction) / 4096) * 4096;
  const partitionSwap = params.fs.swap === 'partition' ? swapBytes : 0;
  const diskBytes = o.diskBytes ?? Math.max(16 * GiB, 4 * memBytes) + partitionSwap + 64 * MiB;
  const layout = guestLayout(diskBytes, swapBytes, params);
  const every = o.checkpoints?.every ?? 0;
  if (!Number.isInteger(every) || every < 0)
    throw new RangeError(`checkpoints.every must be a whole number of events, got ${every}`);
  const events = o.events ?? workload.defaultEvents(pages);
  return {
    guest: o.guest,
    workload: o.workload,
    memBytes,
    pages,
    diskBytes,
    swapBytes,
    seed: o.seed,
    events,
    every,
    batchEvents: o.batchEvents ?? DEFAULT_BATCH,
    coalesceWrites: o.coalesceWrites ?? true,
    params,
    layout,
  };
}

/** Where the file system and swap sit on the disk (a swap file sits at the end of the file system). */
function guestLayout(diskBytes: number, swapBytes: number, p: GuestParams): DiskLayout {
  const l = diskLayout(diskBytes, swapBytes, p.fs);
  if (p.fs.swap === 'partition' || swapBytes === 0) return l;
  const spb = p.fs.blockSize / 512;
  const blocks = Math.floor(l.fsSectors / spb);
  const swapBlocks = (Math.floor(swapBytes / 4096) * 8) / spb;
  return { ...l, swapStart: l.fsStart + (blocks - swapBlocks) * spb, swapSectors: swapBlocks * spb };
}

export function simulationHeader(r: ResolvedSimulation): TraceHeader {
  return makeHeader(r.pages, [{ id: r.params.io.diskId, sectors: r.layout.sectors }], {
    simulator: 'leanckpt-sim',
    simulatorVersion: SIMULATOR_VERSION,
    guest: r.guest,
    workload: r.workload,
    memBytes: r.memBytes,
    diskBytes: r.diskBytes,
    swapBytes: r.swapBytes,
    seed: r.seed,
    events: r.events,
    checkpoints: { every: r.every },
    coalesceWrites: r.coalesceWrites,
    batchEvents: r.batchEvents,
    layout: r.layout,
    params: r.params,
  });
}

/** One run of the simulation, with access to its state (for tests and measurements). */
export class Simulator {
  readonly header: TraceHeader;
  readonly em: Emitter;
  readonly os: GuestOs;
  private readonly step: () => void;
  private done = false;

  constructor(readonly config: ResolvedSimulation) {
    this.header = simulationHeader(config);
    const root = new Prng(config.seed);
    this.em = new Emitter({
      pages: config.pages,
      maxBatch: config.batchEvents,
      every: config.every,
      coalesce: config.coalesceWrites,
    });
    this.os = new GuestOs({
      params: config.params,
      pages: config.pages,
      layout: config.layout,
      swapBytes: config.swapBytes,
      em: this.em,
      rng: root.fork(1),
      ioRng: root.fork(2),
    });
    this.step = WORKLOADS[config.workload].start(this.os, root.fork(3));
  }

  get stats(): Readonly<EmitStats> {
    return this.em.stats;
  }

  /** Typed-array bytes the simulator holds. */
  get byteLength(): number {
    return this.os.byteLength;
  }

  /** Generates the stream's batches, as they are asked for. */
  *batches(): Generator<EventBatch> {
    if (this.done) throw new Error('a Simulator runs once; create another for a second run');
    this.done = true;
    const em = this.em;
    const out = em.out;
    const budget = this.config.events;
    // An idle guest may emit very little: bound the run in guest operations too.
    const maxOps = budget * 50 + 100_000;
    let ops = 0;
    while (em.total < budget && ops++ < maxOps) {
      this.step();
      this.os.tick();
      while (out.length > 0) yield out.shift()!;
    }
    em.checkpoint('final');
    em.finish();
    while (out.length > 0) yield out.shift()!;
  }
}

export function simulate(opts: SimulationOptions): Simulation {
  const config = resolveSimulation(opts);
  const header = simulationHeader(config);
  return {
    header,
    batches: { [Symbol.iterator]: () => new Simulator(config).batches() },
  };
}
