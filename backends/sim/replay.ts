/**
 * Replay with verification: events (simulated or from a trace) -> replay world -> core tracker ->
 * an image at every checkpoint -> restore from that image and the disk snapshot taken at that
 * checkpoint -> byte-exact comparison with the guest's memory, while the guest is still paused.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { deliveryName, type Delivery } from '../../core/checkpoint/delivery.ts';
import type { CheckpointRecord } from '../../core/checkpoint/engine.ts';
import { ImageFormatError, RestoreError } from '../../core/errors.ts';
import type { EventBatch } from '../../core/events/batch.ts';
import { loadHasher } from '../../core/hash.ts';
import { baselineImageBytes, POLICIES, restoreImage } from '../../core/image/index.ts';
import { TOKENS } from '../../core/tokens.ts';
import { traceGeometry, type TraceHeader } from '../../core/trace/header.ts';
import type { TrackerStats } from '../../core/tracker/stats.ts';
import { readsLandAtCompletion, ReplayWorld } from '../../sim/replay/replay-world.ts';
import { simContainer } from './container.ts';
import type { SimProgress } from './sim-guest.ts';
import { VerifyingMemory } from './symbolic-stores.ts';

export type ImagePolicyName = 'p2b' | 'p2b+zero';

export interface ReplayOptions {
  readonly delivery: Delivery;
  readonly policy: ImagePolicyName;
  /**
   * Replay semantics of a `dirty` record naming the page of a read in flight (docs/trace-format.md,
   * "Replay semantics"): true, the read's data lands at its completion, after that write; false, the
   * write may have come during the flight. Default: what the trace's header meta says (false if it
   * says nothing).
   */
  readonly readsLandAtCompletion?: boolean;
  /** Keep the images here; by default they go to a temporary directory and are removed. */
  readonly keepImages?: string;
  readonly onProgress?: (p: SimProgress) => void;
  /** Runs at each checkpoint after verification, while the guest is still paused. */
  readonly onCheckpoint?: (record: CheckpointRecord, result: CheckpointResult) => Promise<void>;
}

export interface CheckpointResult {
  name: string;
  /** Events applied up to this checkpoint. */
  events: number;
  pages: number;
  mappedPages: number;
  zeroPages: number;
  dataPages: number;
  /** Mapped pages the writer found not to match their disk (stored as data): a tracker bug if > 0. */
  demotedPages: number;
  imageBytes: number;
  /** What an unmodified save stores: every page. Computed exactly from the image format. */
  baselineBytes: number;
  reduction: number;
  verified: boolean;
  /** Why verification failed, if it did. */
  failure?: string;
  writeSeconds: number;
  restoreSeconds: number;
  restoreDiskReads: number;
  imagePath?: string;
}

export interface ReplayResult {
  meta: Readonly<Record<string, unknown>>;
  pages: number;
  delivery: string;
  policy: ImagePolicyName;
  /** The semantics the replay used for reads (the option, else the trace's header). */
  readsLandAtCompletion: boolean;
  events: number;
  seconds: number;
  checkpoints: CheckpointResult[];
  tracker: TrackerStats;
}

export async function replay(
  header: TraceHeader,
  batches: Iterable<EventBatch> | AsyncIterable<EventBatch>,
  opts: ReplayOptions,
): Promise<ReplayResult> {
  const started = performance.now();
  const world = new ReplayWorld(traceGeometry(header), {
    readsLandAtCompletion: opts.readsLandAtCompletion ?? readsLandAtCompletion(header.meta),
  });
  const hasher = await loadHasher();
  const dir = opts.keepImages ? resolve(opts.keepImages) : mkdtempSync(join(tmpdir(), 'leanckpt-replay-'));
  mkdirSync(dir, { recursive: true });
  const checkpoints: CheckpointResult[] = [];

  const verify = async (record: CheckpointRecord): Promise<void> => {
    const img = record.images[0]!;
    // The guest is paused: its live memory is the memory at the checkpoint.
    const target = new VerifyingMemory(world.memory);
    let failure: string | undefined;
    let restoreSeconds = 0;
    let restoreDiskReads = 0;
    try {
      const r = await restoreImage(img.path, { memory: target, blocks: record.disks, hasher });
      restoreSeconds = r.seconds;
      restoreDiskReads = r.diskReads;
      if (!target.verified) {
        failure =
          `${target.mismatches} restored page(s) differ from the guest (first: page ${target.firstMismatch}), ` +
          `${target.missing()} missing, ${target.duplicates} restored twice`;
      }
    } catch (err) {
      if (!(err instanceof RestoreError || err instanceof ImageFormatError)) throw err;
      failure = err.message;
    }
    const baselineBytes = baselineImageBytes(world.pageCount, record.disks.disks, record.stateBytes);
    checkpoints.push({
      name: record.cut.name,
      events: record.cut.seq,
      pages: world.pageCount,
      mappedPages: img.pagesMapped,
      zeroPages: img.pagesZero,
      dataPages: img.pagesData,
      demotedPages: img.pagesDemoted,
      imageBytes: img.bytes,
      baselineBytes,
      reduction: 1 - img.bytes / baselineBytes,
      verified: failure === undefined,
      ...(failure === undefined ? {} : { failure }),
      writeSeconds: img.seconds,
      restoreSeconds,
      restoreDiskReads,
      ...(opts.keepImages ? { imagePath: img.path } : {}),
    });
    await opts.onCheckpoint?.(record, checkpoints.at(-1)!);
    if (!opts.keepImages) unlinkSync(img.path);
  };

  try {
    const container = await simContainer(
      { world, batches, meta: header.meta, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) },
      {
        delivery: opts.delivery,
        images: [{ name: opts.policy, policy: POLICIES[opts.policy] }],
        imagePath: (cut, name) => join(dir, `${safeName(cut.name)}.${name}.lckpt`),
        whilePaused: verify,
      },
    );
    const engine = container.get(TOKENS.CheckpointEngine);
    await lastValueFrom(engine.run().pipe(toArray()));
    return {
      meta: header.meta,
      pages: header.pages,
      delivery: deliveryName(opts.delivery),
      policy: opts.policy,
      readsLandAtCompletion: world.readsLandAtCompletion,
      events: engine.tracker.stats.events,
      seconds: (performance.now() - started) / 1000,
      checkpoints,
      tracker: { ...engine.tracker.stats },
    };
  } finally {
    if (!opts.keepImages) rmSync(dir, { recursive: true, force: true });
  }
}

/** Checkpoint names come from traces: keep file names tame. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || 'checkpoint';
}
