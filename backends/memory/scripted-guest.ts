/**
 * The in-memory backend: a MemoryWorld driven by a script (a generator that acts on the world and
 * yields a checkpoint name whenever it wants one). It implements the core's ports the way a real
 * hypervisor does: at a checkpoint the guest is paused and nothing more happens until resume().
 */
import { Observable, type Subscriber } from 'rxjs';
import type { EventBatch } from '../../core/events/batch.ts';
import type {
  BlockStore,
  DiskSnapshotter,
  DomainControl,
  EventSource,
  GuestGeometry,
} from '../../core/ports.ts';
import type { MemoryWorld } from './world.ts';

/** Acts on the world; each yielded string is a checkpoint taken at that point. */
export type GuestScript = (world: MemoryWorld) => Iterator<string, void, void>;

export class ScriptedGuest implements EventSource, DomainControl, DiskSnapshotter {
  readonly geometry: GuestGeometry;
  private iter: Iterator<string, void, void> | undefined;
  private subscriber: Subscriber<EventBatch> | undefined;
  private paused = false;
  private state = new Uint8Array(0);

  constructor(
    readonly world: MemoryWorld,
    private readonly script: GuestScript,
  ) {
    this.geometry = world.geometry;
  }

  events(): Observable<EventBatch> {
    return new Observable<EventBatch>((subscriber) => {
      if (this.iter) throw new Error('a scripted guest runs once');
      this.subscriber = subscriber;
      this.iter = this.script(this.world);
      this.step();
      return () => {
        this.subscriber = undefined;
      };
    });
  }

  /** Runs the script to its next checkpoint (emitting that batch) or to its end. */
  private step(): void {
    const sub = this.subscriber;
    if (!sub || !this.iter) return;
    let next: IteratorResult<string, void>;
    try {
      next = this.iter.next();
    } catch (err) {
      sub.error(err);
      return;
    }
    if (next.done) {
      const rest = this.world.takeEvents();
      if (rest.length > 0) sub.next(rest);
      sub.complete();
      return;
    }
    this.paused = true;
    this.world.checkpoint(next.value);
    sub.next(this.world.takeEvents());
  }

  async pause(): Promise<void> {
    this.paused = true;
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    // Continue on a fresh tick: the consumer's checkpoint handling has finished its turn.
    setImmediate(() => this.step());
  }

  async saveState(): Promise<Uint8Array> {
    // The in-memory guest has no vCPUs; its "device state" is a description of itself.
    return new TextEncoder().encode(JSON.stringify({ backend: 'memory', pages: this.geometry.pageCount }));
  }

  async loadState(state: Uint8Array): Promise<void> {
    this.state = state.slice();
  }

  /** The state last given to loadState (restores check it). */
  get loadedState(): Uint8Array {
    return this.state;
  }

  async snapshot(): Promise<BlockStore> {
    return this.world.snapshotDisks();
  }
}
