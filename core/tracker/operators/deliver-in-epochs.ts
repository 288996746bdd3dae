import { Observable, type OperatorFunction } from 'rxjs';
import { IoDir, Op, type EventBatch } from '../../events/batch.ts';
import { BatchBuilder } from '../../events/builder.ts';

/**
 * Turns precise memory-write delivery into epoch delivery, the way a hypervisor that polls a
 * log-dirty bitmap sees the guest.
 *
 * Memory writes are withheld and their pages collected in a dirty set, as are the target pages of
 * completed reads (DMA into a page dirties it, as Xen's log-dirty does for backend grant copies). Every
 * `epochEvents` input events, and before every checkpoint barrier (the last epoch is flushed while the
 * guest is paused), the set is emitted as one Dirty event. All other events pass through in order.
 *
 * @param pageCount guest pages, for the dirty bitmap
 * @param epochEvents input events per epoch (>= 1)
 * @return batches in which MemWrite events are replaced by periodic Dirty events
 */
export function deliverInEpochs(
  pageCount: number,
  epochEvents: number,
): OperatorFunction<EventBatch, EventBatch> {
  if (!(epochEvents >= 1)) throw new RangeError(`epoch length must be >= 1 event, got ${epochEvents}`);
  return (source) =>
    new Observable<EventBatch>((subscriber) => {
      const isDirty = new Uint8Array(pageCount);
      let dirtyList: number[] = [];
      const readPages = new Map<number, Uint32Array>();
      let sinceFlush = 0;
      const out = new BatchBuilder();

      const markDirty = (pfn: number): void => {
        if (isDirty[pfn]) return;
        isDirty[pfn] = 1;
        dirtyList.push(pfn);
      };
      const flush = (): void => {
        sinceFlush = 0;
        if (dirtyList.length === 0) return;
        out.dirty(dirtyList);
        for (const pfn of dirtyList) isDirty[pfn] = 0;
        dirtyList = [];
      };

      return source.subscribe({
        next(batch) {
          for (let i = 0; i < batch.length; i++) {
            const op = batch.op[i];
            const from = batch.argStart[i]!;
            const to = batch.argStart[i + 1]!;
            if (op === Op.MemWrite) {
              for (let k = from; k < to; k++) markDirty(batch.pfn[k]!);
            } else {
              if (op === Op.Checkpoint) flush();
              out.copy(batch, i);
              if (op === Op.Submit && batch.dir[i] === IoDir.Read) {
                readPages.set(batch.id[i]!, batch.pfn.slice(from, to));
              } else if (op === Op.Complete) {
                const pages = readPages.get(batch.id[i]!);
                readPages.delete(batch.id[i]!);
                if (pages) for (const pfn of pages) markDirty(pfn);
              }
            }
            if (++sinceFlush >= epochEvents) flush();
          }
          if (out.length > 0) subscriber.next(out.build());
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          flush();
          if (out.length > 0) subscriber.next(out.build());
          subscriber.complete();
        },
      });
    });
}
