/**
 * Benchmark 2: bytes per guest page of the page-to-block map, measured from the process (V8 heap plus
 * array buffers, after a forced GC) with every page of the guest mapped through the tracker, against
 * the budget of 16 bytes per page plus the reverse index. The whole tracker (map plus in-flight page
 * references) is reported too, without a target.
 */
import { BatchBuilder } from '../core/events/builder.ts';
import type { Segment } from '../core/events/batch.ts';
import type { GuestGeometry } from '../core/ports.ts';
import { PageBlockMap } from '../core/pbmap/page-block-map.ts';
import { PageBlockTracker } from '../core/tracker/tracker.ts';
import { GiB, row, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = { full: { memBytes: 16 * GiB }, tiny: { memBytes: 64 * 2 ** 20 } };

function processBytes(): number {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Maps every page of the guest by 32-page reads spread over the disk, in batches of 64 Ki events. */
function mapEveryPage(tracker: PageBlockTracker, pageCount: number): void {
  const b = new BatchBuilder();
  const segs: Segment[] = [];
  let id = 0;
  for (let pfn = 0; pfn < pageCount; pfn += 32) {
    segs.length = 0;
    for (let k = pfn; k < Math.min(pfn + 32, pageCount); k++) segs.push([k, 0, 7]);
    // Every other 128 KiB of disk, so mappings are spread like a page cache's.
    b.submit(++id, 'read', 0, 2 * pfn * 8, segs).complete(id, true);
    if (b.length >= 65536) tracker.apply(b.build());
  }
  tracker.apply(b.build());
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const { memBytes } = SIZES[opts.scale];
  const pageCount = memBytes / 4096;
  const geometry: GuestGeometry = { pageCount, disks: [{ id: 0, sectors: pageCount * 16 + 4096 }] };
  if (!globalThis.gc) opts.log('map-memory: run node with --expose-gc for exact numbers');

  // The map alone, hashes on (revalidation): the largest forward arrays.
  const before = processBytes();
  const map = new PageBlockMap(pageCount, { withHashes: true });
  for (let pfn = 0; pfn < pageCount; pfn++) map.map(pfn, 16 * pfn, BigInt(pfn));
  const mapBytes = processBytes() - before;
  const { forward, reverse } = map.byteLength;
  if (map.size !== pageCount) throw new Error('map-memory: not every page got mapped');

  // The whole tracker, driven by events, hashes on.
  const before2 = processBytes();
  const tracker = new PageBlockTracker(geometry, {
    revalidate: true,
    probe: { hashPage: () => 0n, hashSectors: () => 0n },
  });
  mapEveryPage(tracker, pageCount);
  const trackerBytes = processBytes() - before2;
  if (tracker.map.size !== pageCount) throw new Error('map-memory: the tracker did not map every page');

  const perPage = mapBytes / pageCount;
  const budget = 16 + reverse / pageCount;
  return [
    {
      name: 'map-memory',
      params: { memBytes, pageCount, hashes: true, gc: globalThis.gc !== undefined },
      rows: [
        row(
          'map bytes/page',
          perPage,
          'B',
          budget,
          '16 + reverse index',
          '<= budget',
          // To a hundredth of a byte: the process also holds the map object and a few small ones.
          perPage <= budget + 0.01,
        ),
        row('tracker bytes/page', trackerBytes / pageCount, 'B', null, '', 'reported', null),
      ],
      details: {
        mapBytes,
        forwardBytesPerPage: forward / pageCount,
        reverseBytesPerPage: reverse / pageCount,
        trackerBytes,
        mappedPages: map.size,
      },
    },
  ];
}
