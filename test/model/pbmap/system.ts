/**
 * The system under test: the in-memory world (real bytes) feeding the core's rxjs pipeline, in one of
 * the delivery modes, with every checkpoint written as an image and restored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import type { EventBatch } from '../../../core/events/batch.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import { deliverInEpochs } from '../../../core/tracker/operators/deliver-in-epochs.ts';
import { trackPageBlocks } from '../../../core/tracker/operators/track-page-blocks.ts';
import { PageBlockTracker, type CheckpointCut } from '../../../core/tracker/tracker.ts';
import { MemoryWorld, worldProbe } from '../../../backends/memory/world.ts';
import { NaiveModel } from './naive-model.ts';

export type Delivery = 'precise' | 'epoch' | 'epoch+revalidate';

export const PAGES = 8;
export const DISKS = [
  { id: 0, sectors: 64 },
  { id: 1, sectors: 40 },
] as const;

export interface Real {
  readonly world: MemoryWorld;
  readonly tracker: PageBlockTracker;
  readonly feed: Subject<EventBatch>;
  readonly cuts: CheckpointCut[];
  readonly hasher: Hasher64;
  readonly delivery: Delivery;
  readonly dir: string;
  checkpoints: number;
  /** Sends the world's pending events through the pipeline (synchronously). */
  flush(): void;
  dispose(): void;
}

export function makeSystem(
  delivery: Delivery,
  hasher: Hasher64,
  epochEvents = 5,
): { model: NaiveModel; real: Real } {
  const world = new MemoryWorld({ pageCount: PAGES, disks: DISKS, initialMemory: 'unique' });
  const revalidate = delivery === 'epoch+revalidate';
  const tracker = new PageBlockTracker(world.geometry, {
    revalidate,
    probe: revalidate ? worldProbe(world, hasher.hash64) : undefined,
  });
  const feed = new Subject<EventBatch>();
  const cuts: CheckpointCut[] = [];
  const events = delivery === 'precise' ? feed : feed.pipe(deliverInEpochs(PAGES, epochEvents));
  const sub = events.pipe(trackPageBlocks(tracker)).subscribe({
    next: (cut) => cuts.push(cut),
    error: (err: unknown) => {
      throw err;
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'leanckpt-model-'));
  const real: Real = {
    world,
    tracker,
    feed,
    cuts,
    hasher,
    delivery,
    dir,
    checkpoints: 0,
    flush: () => feed.next(world.takeEvents()),
    dispose: () => {
      sub.unsubscribe();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return { model: new NaiveModel(), real };
}
