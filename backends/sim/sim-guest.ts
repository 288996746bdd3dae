/**
 * The simulator backend: a stream of event batches (from the simulator or a trace) played into the
 * replay world, which gives them content, then handed to the core. At a checkpoint barrier the
 * stream stops until resume(), exactly like a paused domain.
 */
import { Observable } from 'rxjs';
import { Op, type EventBatch } from '../../core/events/batch.ts';
import { BatchBuilder } from '../../core/events/builder.ts';
import { endsInCheckpoint, splitAtCheckpoints } from '../../core/events/split.ts';
import type {
  BlockStore,
  DiskIdentity,
  DiskSnapshotter,
  DomainControl,
  EventSource,
  GuestGeometry,
} from '../../core/ports.ts';
import type { ReplayWorld } from '../../sim/replay/replay-world.ts';
import { SymbolicBlockStore } from './symbolic-stores.ts';

export interface SimProgress {
  readonly events: number;
  readonly checkpoints: number;
}

export class SimGuest implements EventSource, DomainControl, DiskSnapshotter {
  readonly geometry: GuestGeometry;
  private resumeWaiter: (() => void) | undefined;
  private started = false;
  private snapshots = 0;
  eventCount = 0;
  checkpointCount = 0;

  constructor(
    readonly world: ReplayWorld,
    private readonly batches: Iterable<EventBatch> | AsyncIterable<EventBatch>,
    private readonly meta: Readonly<Record<string, unknown>> = {},
    private readonly onProgress: (p: SimProgress) => void = () => {},
  ) {
    this.geometry = world.geometry;
  }

  events(): Observable<EventBatch> {
    return new Observable<EventBatch>((subscriber) => {
      if (this.started) throw new Error('a simulated guest runs once');
      this.started = true;
      let stopped = false;
      const run = async (): Promise<void> => {
        for await (const big of this.batches) {
          for (const batch of splitAtCheckpoints(big).flatMap(splitAfterDirty)) {
            if (stopped) return;
            // The world first: when the core sees an event, the guest's content already reflects it.
            this.world.apply(batch);
            this.eventCount += batch.length;
            if (endsInCheckpoint(batch)) {
              this.checkpointCount++;
              const resumed = new Promise<void>((resolve) => (this.resumeWaiter = resolve));
              subscriber.next(batch);
              await resumed;
            } else subscriber.next(batch);
            this.onProgress({ events: this.eventCount, checkpoints: this.checkpointCount });
          }
        }
        subscriber.complete();
      };
      run().catch((err: unknown) => subscriber.error(err));
      return () => {
        stopped = true;
        this.resumeWaiter?.();
      };
    });
  }

  async pause(): Promise<void> {}

  async resume(): Promise<void> {
    const w = this.resumeWaiter;
    this.resumeWaiter = undefined;
    w?.();
  }

  async saveState(): Promise<Uint8Array> {
    // A simulated guest has no vCPUs; its device state names what it is, for `inspect`.
    return new TextEncoder().encode(JSON.stringify({ backend: 'sim', ...this.meta }));
  }

  async loadState(): Promise<void> {}

  async snapshot(name: string): Promise<BlockStore> {
    const n = ++this.snapshots;
    const disks: DiskIdentity[] = this.geometry.disks.map((d) => ({
      ...d,
      uuid: `sim-snapshot-${n}-${name}-disk-${d.id}`,
    }));
    return new SymbolicBlockStore(disks, this.world.snapshotDisks());
  }
}

/**
 * Ends a batch after every Dirty event (a recorded log-dirty epoch). The world runs a batch ahead of
 * the core, and hash revalidation looks at the world: at a Dirty event it must see the pages as they
 * were at that epoch's end, not as later events of the same batch left them. Batches without a Dirty
 * event before their last event are returned as they are.
 */
function splitAfterDirty(batch: EventBatch): EventBatch[] {
  let inside = false;
  for (let i = 0; i < batch.length - 1; i++) if (batch.op[i] === Op.Dirty) inside = true;
  if (!inside) return [batch];
  const out: EventBatch[] = [];
  const b = new BatchBuilder();
  for (let i = 0; i < batch.length; i++) {
    b.copy(batch, i);
    if (batch.op[i] === Op.Dirty) out.push(b.build());
  }
  if (b.length > 0) out.push(b.build());
  return out;
}
