import { Observable, type OperatorFunction } from 'rxjs';
import type { EventBatch } from '../../events/batch.ts';
import type { CheckpointCut, PageBlockTracker } from '../tracker.ts';

/**
 * Applies event batches to a tracker and emits a cut at every checkpoint barrier.
 *
 * The tracker is updated synchronously, batch by batch, so a cut reflects exactly the events before
 * its barrier. Errors from the source, and EventErrors from the tracker, go to the subscriber.
 *
 * @param tracker the tracker that owns the page-to-block map
 * @return the checkpoint cuts, in stream order
 */
export function trackPageBlocks(tracker: PageBlockTracker): OperatorFunction<EventBatch, CheckpointCut> {
  return (source) =>
    new Observable<CheckpointCut>((subscriber) =>
      source.subscribe({
        next(batch) {
          try {
            tracker.apply(batch, (cut) => subscriber.next(cut));
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
