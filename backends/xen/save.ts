/**
 * `leanckpt xen save`: checkpoint a tracked domain into a Xen image.
 *  1. quiesce the disk backend (requests in flight answered, none taken) and take the page map;
 *  2. freeze the disks: with --keep-running a reflink (or plain) copy next to the image, otherwise the
 *     disk files themselves, which nothing writes once the domain is gone; hash their content meanwhile;
 *  3. `xl save -p <domid> <fifo>`, the stream filtered into the image as it arrives (every page checked
 *     against the frozen disk), committed atomically only if xl succeeded;
 *  4. --keep-running: resume the backend (re-enabling log-dirty, which xl save turned off) and unpause;
 *     otherwise destroy the domain, as a plain `xl save` does.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Hasher64 } from '../../core/hash.ts';
import { diskFileStore, freezeCopy, hashFile, type DiskFile } from './disk-files.ts';
import type { XenDisk } from './image/format.ts';
import { writeXenImage, type XenImageStats } from './image/save-image.ts';
import type { TrackedDisk, TrackedDomain } from './tracked-domain.ts';
import { makeFifo, runXl, startXl } from './xl-process.ts';

export interface XenSaveOptions {
  readonly keepRunning: boolean;
  readonly hasher: Hasher64;
}

export interface XenSaveResult {
  readonly image: string;
  readonly domid: number;
  readonly keepRunning: boolean;
  readonly guest: 'pv' | 'hvm';
  readonly disks: readonly (XenDisk & { readonly hash: string })[];
  readonly pages: {
    readonly inStream: number;
    readonly mapped: number;
    readonly zero: number;
    readonly kept: number;
    readonly demoted: number;
    readonly pageTables: number;
  };
  readonly mapSize: number;
  readonly streamBytes: number;
  readonly imageBytes: number;
  /** 1 - image / stream. */
  readonly reduction: number;
  readonly diskReads: number;
  readonly ms: {
    readonly quiesce: number;
    readonly freeze: number;
    /** From starting `xl save` until both it and the image are done. */
    readonly save: number;
    readonly after: number;
    readonly total: number;
  };
}

/** Where the frozen copy of a disk lives for --keep-running: beside the image. */
export const frozenDiskPath = (image: string, vdev: string): string =>
  join(dirname(image), `${basename(image)}.${vdev}.raw`);

export async function saveDomain(
  domain: TrackedDomain,
  image: string,
  opts: XenSaveOptions,
): Promise<XenSaveResult> {
  image = resolve(image);
  const t0 = performance.now();
  const map = await domain.quiesce();
  const t1 = performance.now();
  const copies: string[] = [];
  let saved = false;
  try {
    const frozen = await freeze(domain.disks(), image, opts.keepRunning, copies);
    const t2 = performance.now();
    const stats = await saveThroughFifo(domain.domid, image, frozen, map, opts.hasher);
    const hashes = await stats.hashes;
    saved = true;
    const t3 = performance.now();
    if (opts.keepRunning) {
      await domain.resume();
      await runXl(['unpause', String(domain.domid)]);
    } else {
      await runXl(['destroy', String(domain.domid)]);
      await domain.release();
    }
    const t4 = performance.now();
    const s = stats.stats;
    return {
      image,
      domid: domain.domid,
      keepRunning: opts.keepRunning,
      guest: s.stream.guestType ?? 'pv',
      disks: frozen.disks.map((d) => ({ ...d, hash: hashes.get(d.id)!.toString(16).padStart(16, '0') })),
      pages: {
        inStream: s.pageSlots,
        mapped: s.pagesMapped,
        zero: s.pagesZero,
        kept: s.pagesKept,
        demoted: s.pagesDemoted,
        pageTables: s.pagesNotOrdinary,
      },
      mapSize: map.size,
      streamBytes: s.streamBytes,
      imageBytes: s.imageBytes,
      reduction: s.streamBytes > 0 ? 1 - s.imageBytes / s.streamBytes : 0,
      diskReads: s.diskReads,
      ms: { quiesce: t1 - t0, freeze: t2 - t1, save: t3 - t2, after: t4 - t3, total: t4 - t0 },
    };
  } catch (err) {
    if (!saved) {
      for (const c of copies) await rm(c, { force: true });
      // xl resumes a domain whose save failed; the backend must serve it again.
      await domain.resume().catch(() => undefined);
    }
    throw err;
  }
}

interface Frozen {
  readonly disks: XenDisk[];
  readonly files: DiskFile[];
}

async function freeze(
  disks: readonly TrackedDisk[],
  image: string,
  copy: boolean,
  copies: string[],
): Promise<Frozen> {
  const files: DiskFile[] = [];
  const out: XenDisk[] = [];
  for (const d of disks) {
    let path = d.path;
    if (copy) {
      path = frozenDiskPath(image, d.vdev);
      await rm(path, { force: true });
      await freezeCopy(d.path, path);
      copies.push(path);
    }
    files.push({ id: d.id, path, sectors: d.sectors });
    out.push({ id: d.id, sectors: d.sectors, vdev: d.vdev, path });
  }
  return { disks: out, files };
}

async function saveThroughFifo(
  domid: number,
  image: string,
  frozen: Frozen,
  map: Awaited<ReturnType<TrackedDomain['quiesce']>>,
  hasher: Hasher64,
): Promise<{ stats: XenImageStats; hashes: Promise<Map<number, bigint>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'leanckpt-save-'));
  const fifo = join(dir, 'stream');
  const blocks = diskFileStore(frozen.files);
  const hashes = Promise.all(
    frozen.files.map(async (f) => [f.id, await hashFile(f.path, hasher)] as const),
  ).then((pairs) => new Map(pairs));
  hashes.catch(() => undefined);
  try {
    await makeFifo(fifo);
    const xl = startXl(['save', '-p', String(domid), fifo]);
    // If xl dies before opening the FIFO, our open() would wait forever: open the other end ourselves.
    const failed = xl.done.then(
      () => undefined,
      async (e: unknown) => {
        // Non-blocking: with no reader left this fails at once instead of hanging.
        await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
          .then((h) => h.close())
          .catch(() => undefined);
        return e;
      },
    );
    const input = await open(fifo, 'r');
    try {
      const stats = await writeXenImage(image, {
        stream: input.createReadStream({ highWaterMark: 1 << 20, autoClose: false }),
        map,
        blocks,
        disks: frozen.disks,
        diskHashes: hashes.then((h) => [...h].map(([id, hash]) => ({ id, hash }))),
        hasher,
        beforeCommit: async () => void (await xl.done),
      }).catch(async (e: unknown) => {
        // xl's own message says more than a truncated stream does.
        const xlError = await Promise.race([failed, new Promise((r) => setTimeout(r, 2000, undefined))]);
        throw xlError ?? e;
      });
      return { stats, hashes };
    } finally {
      await input.close();
    }
  } finally {
    blocks.close();
    await rm(dir, { recursive: true, force: true });
  }
}
