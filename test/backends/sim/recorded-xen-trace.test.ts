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
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../../backends/sim/replay.ts';
import { parseDelivery } from '../../../core/checkpoint/delivery.ts';
import { openTrace } from '../../../core/trace/reader.ts';

const TRACE = join(resolve(import.meta.dirname, '../../fixtures/xen'), 'pv-life-run6.lctrace');

/** What the real tracker and save reported at the barrier (the save's result). */
const REAL = { mapSize: 28_086, leftOut: 28_085, demoted: 0, pageTables: 0, streamPages: 65_536 };

async function run(delivery: string) {
  const trace = await openTrace(TRACE);
  let maxMappedPfn = -1;
  try {
    const r = await replay(trace.header, trace.batches, {
      delivery: parseDelivery(delivery),
      policy: 'p2b+zero',
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
    // epoch. Run 6's tracker dropped every such segment (rule 6). The replay world takes the dirty bit
    // for a guest write during the flight and tears the segment, so today's tracker, which maps a
    // tainted read whose page hashes like its sectors, drops them too.
    expect(r.tracker).toMatchObject({ taintedSegments: 1633, taintedKeptByRevalidation: 0 });
  });

  it('without revalidation, the dirty records of its own grant copies kill nearly everything', async () => {
    const { r } = await run('precise');
    expect(r.checkpoints[0]).toMatchObject({ mappedPages: 5, verified: true });
  });
});
