/**
 * A real guest's life, recorded by the Xen backend's tracking process (`xen create --record`, lab run
 * 6, 2026-11-26: a 256 MiB PV guest running `read-heavy` on leanckpt's disk backend, log-dirty every
 * 1000 ms, ended by the quiesce of a `xen save`). Replaying it must predict what the real tracker kept.
 *
 * The real save of that run: map 28,086 entries at the barrier; of the stream's 65,536 pages, 28,085
 * left out as on disk (each checked byte for byte), 11,550 zero, 25,901 stored, 0 demoted, 0 page
 * tables. So exactly one map entry was not left out as a disk reference, and not because its bytes
 * differed (none demoted): the filter tests for zeros first, so it was a page whose sectors hold zeros
 * (counted as zero), or its page was not in the stream. The replay's disks have no zero sectors
 * (every sector's content is distinct), so its image leaves out every mapped page.
 *
 * The trace predates the header's `readsLandAtCompletion`, so it replays by default as a dirty record
 * on the page of a read in flight were a guest write during the flight (the segment torn), which is
 * what run 6's tracker did with such reads (it dropped them). `--reads-land-at-completion` replays it
 * as the Xen backend works (the grant copy lands with the completion, after any write a dirty record
 * in the flight reports), which is what today's tracker, revalidating those reads, would have mapped.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../../backends/sim/replay.ts';
import { parseDelivery } from '../../../core/checkpoint/delivery.ts';
import { openTrace } from '../../../core/trace/reader.ts';

const TRACE = join(resolve(import.meta.dirname, '../../fixtures/xen'), 'pv-life-run6.lctrace');

/** What the real tracker and save reported at the barrier (the save's result). */
const REAL = { mapSize: 28_086, leftOut: 28_085, demoted: 0, pageTables: 0, streamPages: 65_536 };

async function run(delivery: string, readsLandAtCompletion?: boolean) {
  const trace = await openTrace(TRACE);
  let maxMappedPfn = -1;
  try {
    const r = await replay(trace.header, trace.batches, {
      delivery: parseDelivery(delivery),
      policy: 'p2b+zero',
      ...(readsLandAtCompletion === undefined ? {} : { readsLandAtCompletion }),
      onCheckpoint: async (record) => {
        const pfns = record.cut.mapping.pfn;
        for (let i = 0; i < pfns.length; i++) maxMappedPfn = Math.max(maxMappedPfn, pfns[i]!);
      },
    });
    return { r, maxMappedPfn };
  } finally {
    await trace.close();
  }
}

describe('the recorded life of a real PV guest (lab run 6)', () => {
  it('is what the run recorded: 6,553 events, all its dirty records before one quiesce barrier', async () => {
    const trace = await openTrace(TRACE);
    let events = 0;
    for await (const b of trace.batches) events += b.length;
    await trace.close();
    expect(events).toBe(6553);
    expect(trace.header.meta).toMatchObject({
      source: 'xen',
      guest: 'pv',
      delivery: 'log-dirty every 1000 ms',
    });
  });

  it('replayed as the real tracker ran (its dirty records, hash revalidation) predicts the real map', async () => {
    const { r, maxMappedPfn } = await run('precise+revalidate');
    expect(r.meta).not.toHaveProperty('readsLandAtCompletion');
    expect(r.readsLandAtCompletion).toBe(false);
    expect(r.checkpoints).toHaveLength(1);
    const c = r.checkpoints[0]!;
    expect(c).toMatchObject({ name: 'quiesce-1', verified: true, demotedPages: 0 });
    expect(c.mappedPages).toBe(REAL.mapSize);
    // Every predicted mapping is of a page the stream carries: the one entry the real save did not
    // leave out as a disk reference was a zero page there, which replayed disks cannot hold.
    expect(maxMappedPfn).toBeLessThan(REAL.streamPages);
    expect(REAL.mapSize - REAL.leftOut - REAL.demoted - REAL.pageTables).toBe(1);
    // Of the mapped pages its dirty records name, 8 have no I/O of their epoch to account for the
    // dirty bit (guest writes): killed. Every other one is kept.
    expect(r.tracker).toMatchObject({ keptByRevalidation: 28_094, killedByDirty: 8 });
    // 1,633 read segments had their page named by a dirty record while they flew, by no I/O of the
    // epoch. Run 6's tracker dropped every such segment (rule 6). Replayed as recorded (the trace does
    // not say its reads land at completion), the replay world takes the dirty bit for a guest write
    // during the flight and tears the segment, so today's tracker, which maps a tainted read whose page
    // hashes like its sectors, drops them too.
    expect(r.tracker).toMatchObject({ taintedSegments: 1633, taintedKeptByRevalidation: 0 });
  });

  it("replayed with reads landing at completion predicts today's tracker: run 6's map plus the tainted reads", async () => {
    const { r, maxMappedPfn } = await run('precise+revalidate', true);
    expect(r.readsLandAtCompletion).toBe(true);
    const c = r.checkpoints[0]!;
    expect(c).toMatchObject({ name: 'quiesce-1', verified: true, demotedPages: 0 });
    // The same 1,633 tainted segments, now every one kept: a dirty record during the flight reports
    // a write before the grant copy, which overwrote the whole page, so the page hashes like its
    // sectors at the completion.
    expect(r.tracker).toMatchObject({ taintedSegments: 1633, taintedKeptByRevalidation: 1633 });
    // One of those pages is written by the guest later (an epoch names it with no I/O of its own):
    // killed, 9 by dirty records instead of 8. Disk changes kill the same 2 either way.
    expect(r.tracker).toMatchObject({ killedByDirty: 9, killedByDiskChange: 2 });
    // So the map is run 6's, plus the 1,633 reads, less that one: 28,086 + 1,633 - 1 = 29,718.
    expect(c.mappedPages).toBe(REAL.mapSize + 1633 - 1);
    expect(c.mappedPages).toBe(29_718);
    expect(maxMappedPfn).toBeLessThan(REAL.streamPages);
  });

  it('replayed with the override off is replayed as recorded', async () => {
    const { r } = await run('precise+revalidate', false);
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: REAL.mapSize, verified: true });
  });

  it('without revalidation, the dirty records of its own grant copies kill nearly everything', async () => {
    const { r } = await run('precise');
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: 5, verified: true });
  });
});
