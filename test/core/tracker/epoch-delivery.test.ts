import { from, lastValueFrom, throwError, toArray, concat } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { batchOf } from '../../../core/events/builder.ts';
import type { GuestEvent } from '../../../core/events/batch.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import { deliverInEpochs } from '../../../core/tracker/operators/deliver-in-epochs.ts';
import { checkpoint, done, FULL, memWrite, read, release, write } from '../../support/tracker-helpers.ts';

async function epochs(events: GuestEvent[], every: number, batchSize = events.length): Promise<GuestEvent[]> {
  const batches = [];
  for (let i = 0; i < events.length; i += batchSize) batches.push(batchOf(events.slice(i, i + batchSize)));
  const out = await lastValueFrom(from(batches).pipe(deliverInEpochs(16, every), toArray()));
  return out.flatMap(batchEvents);
}

describe('deliverInEpochs', () => {
  it('withholds memory writes and delivers them as one dirty event every N events', async () => {
    const out = await epochs([memWrite(1), memWrite(2), memWrite(1), release(9), memWrite(3)], 4);
    expect(out).toEqual([release(9), { op: 'dirty', pfns: [1, 2] }, { op: 'dirty', pfns: [3] }]);
  });

  it('flushes the dirty set before a checkpoint barrier', async () => {
    const out = await epochs([memWrite(5), checkpoint('c1'), memWrite(6)], 100);
    expect(out).toEqual([{ op: 'dirty', pfns: [5] }, checkpoint('c1'), { op: 'dirty', pfns: [6] }]);
  });

  it('marks the target pages of completed reads dirty, not write sources', async () => {
    const out = await epochs(
      [read(1, 0, 0, [FULL(4), FULL(7)]), write(2, 0, 64, [FULL(8)]), done(1), done(2)],
      100,
    );
    expect(out).toEqual([
      read(1, 0, 0, [FULL(4), FULL(7)]),
      write(2, 0, 64, [FULL(8)]),
      done(1),
      done(2),
      { op: 'dirty', pfns: [4, 7] },
    ]);
  });

  it('counts epochs across batch boundaries', async () => {
    const events = [memWrite(1), release(2), memWrite(3), release(4), memWrite(5), release(6)];
    const whole = await epochs(events, 2);
    const split = await epochs(events, 2, 1);
    expect(split).toEqual(whole);
    expect(whole).toEqual([
      release(2),
      { op: 'dirty', pfns: [1] },
      release(4),
      { op: 'dirty', pfns: [3] },
      release(6),
      { op: 'dirty', pfns: [5] },
    ]);
  });

  it('passes a source error through after what came before', async () => {
    const source = concat(
      from([batchOf([release(1)])]),
      throwError(() => new Error('boom')),
    );
    const seen: GuestEvent[] = [];
    await expect(
      lastValueFrom(source.pipe(deliverInEpochs(16, 5)), { defaultValue: null }).then(() => null),
    ).rejects.toThrow('boom');
    source
      .pipe(deliverInEpochs(16, 5))
      .subscribe({ next: (b) => seen.push(...batchEvents(b)), error: () => {} });
    expect(seen).toEqual([release(1)]);
  });

  it('rejects an epoch shorter than one event', () => {
    expect(() => deliverInEpochs(16, 0)).toThrow(RangeError);
  });
});
