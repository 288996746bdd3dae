/**
 * The Xen image pipeline on this machine's CPU and disk, without a hypervisor: what `xen save`'s
 * filter and `xen restore`'s verify + rebuild cost next to only moving the same bytes (reading the
 * stream and writing it, fsync'd), in the same run. In the emulated lab every process shares one
 * emulated CPU, so there `xen save` is `xl save` plus all of leanckpt's work; this separates that work.
 * The guest is shaped like the lab's read-heavy PV guest: 40 % of its pages equal disk blocks (and are
 * mapped), 17 % are zero, the rest random; the disk is as large as the guest.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { hasherKind, loadHasher } from '../core/hash.ts';
import { diskFileStore, hashFile } from '../backends/xen/disk-files.ts';
import { rebuildXenStream } from '../backends/xen/image/rebuild.ts';
import { GrowingFileSource } from '../backends/xen/stream/file-source.ts';
import { writeXenImage } from '../backends/xen/image/save-image.ts';
import type { PageLocation, PageMapView } from '../backends/xen/tracked-domain.ts';
import { randomPage, streamPieces, type StreamSpec } from '../test/backends/xen/fixtures/stream-fixture.ts';
import { row, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = { full: { pages: 65536 }, tiny: { pages: 1024 } };
const DISK_ID = 51712;
const PAGE = 4096;

type Kind = 'disk' | 'zero' | 'random';
/** 40 % disk, 17 % zero, 43 % random, interleaved like a page cache among other memory. */
const kindOf = (pfn: number): Kind => {
  const k = (pfn * 37) % 100;
  return k < 40 ? 'disk' : k < 57 ? 'zero' : 'random';
};

/** Disk page of guest page `pfn`: a permutation, so mapped pages are scattered over the disk. */
const diskPageOf = (pfn: number, pages: number): number => (pfn * 40503) % pages;

class Map40 implements PageMapView {
  constructor(private readonly pages: number) {}
  get size(): number {
    let n = 0;
    for (let p = 0; p < this.pages; p++) if (kindOf(p) === 'disk') n++;
    return n;
  }
  get(pfn: number): PageLocation | undefined {
    return kindOf(pfn) === 'disk' ? { disk: DISK_ID, sector: diskPageOf(pfn, this.pages) * 8 } : undefined;
  }
}

async function writeFsync(
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const f = await open(path, 'w');
  try {
    for await (const c of chunks) await f.write(c);
    await f.sync();
  } finally {
    await f.close();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [(performance.now() - t0) / 1000, r];
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const { pages } = SIZES[opts.scale];
  const hasher = await loadHasher();
  const dir = join(opts.scratch, 'xen-pipeline');
  await mkdir(dir, { recursive: true });
  try {
    const diskPath = join(dir, 'xvda.raw');
    const diskPageSeed = (d: number): number => 1_000_003 + d;
    await writeFsync(
      diskPath,
      (function* () {
        for (let d = 0; d < pages; d++) yield randomPage(diskPageSeed(d));
      })(),
    );
    const zero = new Uint8Array(PAGE);
    const spec: StreamSpec = {
      guest: 'pv',
      pages,
      batch: 1024,
      content: (pfn) => {
        const k = kindOf(pfn);
        if (k === 'zero') return zero;
        return randomPage(k === 'disk' ? diskPageSeed(diskPageOf(pfn, pages)) : 7 + pfn);
      },
    };
    const streamPath = join(dir, 'stream.xl');
    await writeFsync(streamPath, streamPieces(spec));
    const streamBytes = (await stat(streamPath)).size;
    opts.log(`xen-pipeline: ${pages} pages, stream ${(streamBytes / 2 ** 20).toFixed(0)} MiB`);

    // Baseline: the bytes moved and nothing else (what the dom0 side of a save or restore must do).
    const [copy] = await timed(() =>
      pipeline(
        createReadStream(streamPath, { highWaterMark: 8 << 20 }),
        createWriteStream(join(dir, 'copy.xl')),
      ).then(async () => {
        const f = await open(join(dir, 'copy.xl'), 'r+');
        await f.sync();
        await f.close();
      }),
    );
    await rm(join(dir, 'copy.xl'));

    const imagePath = join(dir, 'guest.lckx');
    const disks = [{ id: DISK_ID, sectors: pages * 8, vdev: 'xvda', path: diskPath }];
    const [save, stats] = await timed(async () => {
      const blocks = diskFileStore([{ id: DISK_ID, path: diskPath, sectors: pages * 8 }]);
      // Read as `xen save` reads xl's file (here complete already).
      const input = await open(streamPath, 'r');
      try {
        const hash = hashFile(diskPath, hasher);
        return await writeXenImage(imagePath, {
          stream: new GrowingFileSource(input, () => true),
          map: new Map40(pages),
          blocks,
          disks,
          diskHashes: hash.then((h) => [{ id: DISK_ID, hash: h }]),
          hasher,
        });
      } finally {
        await input.close();
        blocks.close();
      }
    });
    // As `xen restore` stages the stream: the rebuild is the verification, the whole-disk hash beside it.
    const [restore, rebuilt] = await timed(async () => {
      const blocks = diskFileStore([{ id: DISK_ID, path: diskPath, sectors: pages * 8 }]);
      try {
        const hash = hashFile(diskPath, hasher);
        const out = await open(join(dir, 'rebuilt.xl'), 'w');
        try {
          const r = await rebuildXenStream(
            imagePath,
            blocks,
            hasher,
            async (b) => void (await out.write(b)),
            {
              collectMap: true,
            },
          );
          await out.sync();
          if ((await hash) !== r.diskHashes.get(DISK_ID)) throw new Error('xen-pipeline: disk hash differs');
          return r;
        } finally {
          await out.close();
        }
      } finally {
        blocks.close();
      }
    });
    if (rebuilt.bytes !== streamBytes) throw new Error('xen-pipeline: the rebuilt stream differs in length');
    const target = '(none: the lab compares with xl)';
    return [
      {
        name: 'xen-pipeline',
        params: { pages, streamBytes, mappedFraction: 0.4, zeroFraction: 0.17, hasher: await hasherKind() },
        rows: [
          row('xen save filter (incl. disk hash)', save, 's', copy, 'stream copy', target, null),
          row('xen restore rebuild (verifying) + disk hash', restore, 's', copy, 'stream copy', target, null),
        ],
        details: {
          copySeconds: copy,
          saveSeconds: save,
          restoreSeconds: restore,
          imageBytes: stats.imageBytes,
          reduction: 1 - stats.imageBytes / streamBytes,
          pagesMapped: stats.pagesMapped,
          pagesZero: stats.pagesZero,
          pagesKept: stats.pagesKept,
          streamMiBps: streamBytes / 2 ** 20 / save,
        },
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
