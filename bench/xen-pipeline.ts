/**
 * The Xen image pipeline on this machine's CPU and disk, without a hypervisor: what `xen save`'s
 * filter and `xen restore`'s verify + rebuild cost next to only moving the same bytes (reading the
 * stream and writing it, fsync'd), in the same run. In the emulated lab every process shares one
 * emulated CPU, so there `xen save` is `xl save` plus all of leanckpt's work; this separates that work.
 * The guest is shaped like the lab's read-heavy PV guest: 40 % of its pages equal disk blocks (and are
 * mapped), 17 % are zero, the rest random; the disk is as large as the guest. Two layouts: `scattered`,
 * each mapped page alone and anywhere on the disk (one disk read per page: the worst case), and `runs`,
 * runs of 64 pages that lie in order on the disk, as in the lab's guests (there the restore read
 * 29,713 mapped pages in 142 reads).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { hasherKind, loadHasher, type Hasher64 } from '../core/hash.ts';
import { diskFileStore, hashFileChunks } from '../backends/xen/disk-files.ts';
import { CONTENT_CHUNK_SECTORS } from '../backends/xen/content/chunk-hashes.ts';
import { fillGuestMemory, type GuestMemory } from '../backends/xen/fill.ts';
import { rebuildXenStream } from '../backends/xen/image/rebuild.ts';
import { sparseXenStream } from '../backends/xen/image/sparse.ts';
import { GrowingFileSource } from '../backends/xen/stream/file-source.ts';
import { writeXenImage, type XenImageStats } from '../backends/xen/image/save-image.ts';
import type { PageLocation, PageMapView } from '../backends/xen/tracked-domain.ts';
import { randomPage, streamPieces, type StreamSpec } from '../test/backends/xen/fixtures/stream-fixture.ts';
import { row, type BenchOptions, type BenchResult } from './lib/result.ts';

const SIZES = { full: { pages: 65536 }, tiny: { pages: 1024 } };
const DISK_ID = 51712;
const PAGE = 4096;
/** Pages per run of one kind in the `runs` layout. */
const RUN = 64;

type Layout = 'scattered' | 'runs';
const LAYOUTS: readonly Layout[] = ['scattered', 'runs'];

type Kind = 'disk' | 'zero' | 'random';

/** Where each guest page's content comes from, in one layout. */
interface Shape {
  /** 40 % disk, 17 % zero, 43 % random. */
  kindOf(pfn: number): Kind;
  /** The disk page a `disk` page equals. */
  diskPageOf(pfn: number): number;
}

function shape(layout: Layout, pages: number): Shape {
  const kind = (k: number): Kind => (k < 40 ? 'disk' : k < 57 ? 'zero' : 'random');
  return layout === 'scattered'
    ? // Kinds interleaved page by page; a permutation scatters the mapped pages over the disk.
      { kindOf: (pfn) => kind((pfn * 37) % 100), diskPageOf: (pfn) => (pfn * 40503) % pages }
    : { kindOf: (pfn) => kind((Math.floor(pfn / RUN) * 37) % 100), diskPageOf: (pfn) => pfn % pages };
}

class MapOf implements PageMapView {
  constructor(
    private readonly pages: number,
    private readonly s: Shape,
  ) {}
  get size(): number {
    let n = 0;
    for (let p = 0; p < this.pages; p++) if (this.s.kindOf(p) === 'disk') n++;
    return n;
  }
  get(pfn: number): PageLocation | undefined {
    return this.s.kindOf(pfn) === 'disk' ? { disk: DISK_ID, sector: this.s.diskPageOf(pfn) * 8 } : undefined;
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

const diskPageSeed = (d: number): number => 1_000_003 + d;

interface Measured {
  readonly streamBytes: number;
  readonly copy: number;
  readonly save: number;
  readonly restore: number;
  readonly diskReads: number;
  /** The direct fill: the sparse stream written for xl, then the left-out pages read and checked. */
  readonly direct: number;
  /** The same when the disk is proven by its file's identity: no whole-disk hash. */
  readonly directByIdentity: number;
  readonly sparseBytes: number;
  readonly stats: XenImageStats;
}

/**
 * Guest memory for the direct fill without a guest: every mapping is one reused buffer that unmap()
 * discards. A real foreign mapping is written in place the same way, so the dom0 side's work (reads
 * into the mapping, hashing there, zeroing) is what this measures; Xen's own mapping cost is not.
 */
function scratchMemory(): GuestMemory {
  let buf = new Uint8Array(0);
  return {
    map(pfns) {
      if (buf.length < pfns.length * PAGE) buf = new Uint8Array(pfns.length * PAGE);
      return { bytes: buf.subarray(0, pfns.length * PAGE), unmap: () => undefined };
    },
    close: () => undefined,
  };
}

/** One layout: its stream, a plain copy of it, the save filter and the restore's rebuild. */
async function measure(
  dir: string,
  diskPath: string,
  pages: number,
  layout: Layout,
  hasher: Hasher64,
): Promise<Measured> {
  const s = shape(layout, pages);
  const zero = new Uint8Array(PAGE);
  const spec: StreamSpec = {
    guest: 'pv',
    pages,
    batch: 1024,
    content: (pfn) => {
      const k = s.kindOf(pfn);
      if (k === 'zero') return zero;
      return randomPage(k === 'disk' ? diskPageSeed(s.diskPageOf(pfn)) : 7 + pfn);
    },
  };
  const streamPath = join(dir, 'stream.xl');
  await writeFsync(streamPath, streamPieces(spec));
  const streamBytes = (await stat(streamPath)).size;

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
      const hash = hashFileChunks(diskPath, hasher, CONTENT_CHUNK_SECTORS);
      return await writeXenImage(imagePath, {
        stream: new GrowingFileSource(input, () => true),
        map: new MapOf(pages, s),
        blocks,
        disks,
        diskHashes: hash.then((c) => [{ id: DISK_ID, hash: c.hash, chunkSectors: c.chunkSectors }]),
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
      const hash = hashFileChunks(diskPath, hasher, CONTENT_CHUNK_SECTORS);
      const out = await open(join(dir, 'rebuilt.xl'), 'w');
      try {
        const r = await rebuildXenStream(imagePath, blocks, hasher, async (b) => void (await out.write(b)), {
          collectMap: true,
        });
        await out.sync();
        if ((await hash).hash !== r.diskHashes.get(DISK_ID)?.hash)
          throw new Error('xen-pipeline: disk hash differs');
        return r;
      } finally {
        await out.close();
      }
    } finally {
      blocks.close();
    }
  });
  if (rebuilt.bytes !== streamBytes) throw new Error('xen-pipeline: the rebuilt stream differs in length');
  await rm(join(dir, 'rebuilt.xl'));
  // As `xen restore --fill direct` does: the sparse stream for xl (staged here), then the fill; with
  // `--disk-check content` (or a disk whose file changed since the save) the whole-disk hash beside it,
  // else (the file's identity unchanged) no disk read beyond the fill's.
  const direct = async (diskHash: boolean) => {
    const blocks = diskFileStore([{ id: DISK_ID, path: diskPath, sectors: pages * 8 }]);
    try {
      const hash = diskHash ? hashFileChunks(diskPath, hasher, CONTENT_CHUNK_SECTORS) : undefined;
      const out = await open(join(dir, 'sparse.xl'), 'w');
      let sparse;
      try {
        sparse = await sparseXenStream(imagePath, hasher, async (b) => void (await out.write(b)));
        await out.sync();
      } finally {
        await out.close();
      }
      const filled = await fillGuestMemory(sparse.plan, scratchMemory(), blocks, hasher);
      if (filled.pagesFromDisk !== stats.pagesMapped) throw new Error('xen-pipeline: the fill missed pages');
      if (hash && (await hash).hash !== sparse.diskHashes.get(DISK_ID)?.hash)
        throw new Error('xen-pipeline: disk hash differs');
      return sparse.bytes;
    } finally {
      blocks.close();
    }
  };
  const [hashed, sparseBytes] = await timed(() => direct(true));
  const [byIdentity] = await timed(() => direct(false));
  await rm(join(dir, 'sparse.xl'));
  return {
    streamBytes,
    copy,
    save,
    restore,
    diskReads: rebuilt.diskReads,
    direct: hashed,
    directByIdentity: byIdentity,
    sparseBytes,
    stats,
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const { pages } = SIZES[opts.scale];
  const hasher = await loadHasher();
  const dir = join(opts.scratch, 'xen-pipeline');
  await mkdir(dir, { recursive: true });
  try {
    const diskPath = join(dir, 'xvda.raw');
    await writeFsync(
      diskPath,
      (function* () {
        for (let d = 0; d < pages; d++) yield randomPage(diskPageSeed(d));
      })(),
    );
    const target = '(none: the lab compares with xl)';
    const rows = [];
    const details: Record<string, unknown> = {};
    for (const layout of LAYOUTS) {
      const m = await measure(dir, diskPath, pages, layout, hasher);
      opts.log(
        `xen-pipeline (${layout}): ${pages} pages, stream ${(m.streamBytes / 2 ** 20).toFixed(0)} MiB, ` +
          `restore ${m.diskReads} disk reads`,
      );
      const name = layout === 'scattered' ? 'scattered pages' : 'pages in runs';
      rows.push(
        row(`xen save filter (incl. disk hash), ${name}`, m.save, 's', m.copy, 'stream copy', target, null),
        row(`xen restore rebuild + disk hash, ${name}`, m.restore, 's', m.copy, 'stream copy', target, null),
        row(
          `xen restore sparse + fill + disk hash, ${name}`,
          m.direct,
          's',
          m.copy,
          'stream copy',
          target,
          null,
        ),
        row(
          `xen restore sparse + fill, disk by identity, ${name}`,
          m.directByIdentity,
          's',
          m.copy,
          'stream copy',
          target,
          null,
        ),
      );
      details[layout] = {
        streamBytes: m.streamBytes,
        copySeconds: m.copy,
        saveSeconds: m.save,
        restoreSeconds: m.restore,
        restoreDiskReads: m.diskReads,
        directSeconds: m.direct,
        directByIdentitySeconds: m.directByIdentity,
        sparseBytes: m.sparseBytes,
        imageBytes: m.stats.imageBytes,
        reduction: 1 - m.stats.imageBytes / m.streamBytes,
        pagesMapped: m.stats.pagesMapped,
        pagesZero: m.stats.pagesZero,
        pagesKept: m.stats.pagesKept,
      };
    }
    return [
      {
        name: 'xen-pipeline',
        params: { pages, mappedFraction: 0.4, zeroFraction: 0.17, runPages: RUN, hasher: await hasherKind() },
        rows,
        details,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
