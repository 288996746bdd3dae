/**
 * The domain's one event stream. The disk backends and the log-dirty poller run on the same thread and
 * append here as things happen, so the stream's order is the order of the real events; `flush()` hands
 * the burst to the consumer as one columnar batch.
 */
import { Subject, type Observable } from 'rxjs';
import type { EventBatch, GuestEvent, Segment } from '../../../core/events/batch.ts';
import { BatchBuilder } from '../../../core/events/builder.ts';
import type { IoEvents } from '../blkif/ports.ts';

export class EventBus implements IoEvents {
  private readonly builder = new BatchBuilder();
  private readonly subject = new Subject<EventBatch>();
  readonly batches: Observable<EventBatch> = this.subject.asObservable();
  private ended = false;

  submit(id: number, dir: 'read' | 'write', disk: number, sector: number, segs: readonly Segment[]): void {
    this.builder.submit(id, dir, disk, sector, segs);
  }

  submitDiscard(id: number, disk: number, sector: number, count: number): void {
    this.builder.submitDiscard(id, disk, sector, count);
  }

  complete(id: number, ok: boolean): void {
    this.builder.complete(id, ok);
  }

  /**
   * One log-dirty epoch's pages. An empty epoch is kept too: a recorded trace then marks every epoch
   * boundary, which the replay needs to tell which epoch a request's data moved in.
   */
  dirty(pfns: ArrayLike<number>): void {
    this.builder.dirty(pfns);
  }

  /** Any event, as an object (tests, and events that are rare enough not to matter for speed). */
  add(e: GuestEvent): void {
    this.builder.add(e);
  }

  /** A barrier: the consumer cuts the map here. Flushes at once. */
  checkpoint(name: string): void {
    this.builder.checkpoint(name);
    this.flush();
  }

  flush(): void {
    if (this.ended || this.builder.length === 0) return;
    this.subject.next(this.builder.build());
  }

  end(): void {
    this.flush();
    this.ended = true;
    this.subject.complete();
  }
}
