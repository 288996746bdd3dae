/**
 * `leanckpt xen save`: checkpoint a tracked domain into a Xen image.
 *  1. quiesce the disk backend (requests in flight answered, none taken) and take the page map;
 *  2. freeze the disks: with --keep-running a reflink (or plain) copy next to the image, otherwise the
 *     disk files themselves, which nothing writes once the domain is gone; hash their content meanwhile;
 *  3. `xl save -p <domid> <fifo or file>`, the stream filtered into the image as it arrives (every page
 *     checked against the frozen disk), committed atomically only if xl succeeded;
 *  4. --keep-running: resume the backend (re-enabling log-dirty, which xl save turned off) and unpause;
 *     otherwise destroy the domain, as a plain `xl save` does.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Hasher64 } from '../../core/hash.ts';
import { CheckpointError } from '../../core/errors.ts';
import { StreamFormatError } from './stream/errors.ts';
import { diskFileStore, freezeCopy, hashFile, type DiskFile } from './disk-files.ts';
import type { XenDisk } from './image/format.ts';
import { writeXenImage, type XenImageStats } from './image/save-image.ts';
import type { TrackedDisk, TrackedDomain } from './tracked-domain.ts';
import { makeFifo, runXl, startXl } from './xl-process.ts';

export interface XenSaveOptions {
  readonly keepRunning: boolean;
  readonly hasher: Hasher64;
  /** How the stream reaches the filter (default `file`, see StreamTransport). */
  readonly transport?: StreamTransport;
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
    /** The `xl save` process alone: what `save` adds beyond it is leanckpt's. */
    readonly xl: number;
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
    const stats = await saveThrough(opts.transport ?? 'file', domain.domid, image, frozen, map, opts.hasher);
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
      ms: {
        quiesce: t1 - t0,
        freeze: t2 - t1,
        save: t3 - t2,
        xl: stats.xlMs,
        after: t4 - t3,
        total: t4 - t0,
      },
    };
  } catch (err) {
    if (!saved) {
      for (const c of copies) await rm(c, { force: true });
      // The guest goes on as before the save: the backend serves it again (xl resumes a domain whose
      // save failed; one whose save xl completed is paused and is unpaused here).
      await domain.resume().catch(() => undefined);
      if (typeof err === 'object' && err !== null && leftPaused.has(err)) {
        await runXl(['unpause', String(domain.domid)]).catch(() => undefined);
      }
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

/**
 * How the stream gets from `xl save` to the filter. `fifo`: through a named pipe, nothing on disk.
 * `file`: xl writes a temporary file beside the image, which the filter reads as it grows. The lab
 * measured `xl save` of a 256 MiB PV guest at 5.8 s to a file and 15.5 s into a pipe (and `xl restore`
 * at 6.1 s and 10.4 s), so `file` is the default; it needs the stream's size in free space meanwhile.
 */
export type StreamTransport = 'fifo' | 'file';

async function saveThrough(
  transport: StreamTransport,
  domid: number,
  image: string,
  frozen: Frozen,
  map: Awaited<ReturnType<TrackedDomain['quiesce']>>,
  hasher: Hasher64,
): Promise<{ stats: XenImageStats; hashes: Promise<Map<number, bigint>>; xlMs: number }> {
  const dir = transport === 'fifo' ? await mkdtemp(join(tmpdir(), 'leanckpt-save-')) : undefined;
  const target = dir
    ? join(dir, 'stream')
    : join(dirname(image), `.${basename(image)}.xlstream-${process.pid}`);
  const blocks = diskFileStore(frozen.files);
  const hashes = Promise.all(
    frozen.files.map(async (f) => [f.id, await hashFile(f.path, hasher)] as const),
  ).then((pairs) => new Map(pairs));
  hashes.catch(() => undefined);
  let input: FileHandle | undefined;
  try {
    if (dir) await makeFifo(target);
    else input = await open(target, 'wx+');
    const xl = startXl(['save', '-p', String(domid), target]);
    let exited = false;
    const failed = xl.done.then(
      () => void (exited = true),
      async (e: unknown) => {
        exited = true;
        // If xl dies before opening the FIFO our open() would wait forever: open the other end
        // ourselves, non-blocking so that with no reader left it fails at once instead of hanging.
        if (dir) {
          await open(target, constants.O_WRONLY | constants.O_NONBLOCK)
            .then((h) => h.close())
            .catch(() => undefined);
        }
        return e;
      },
    );
    input ??= await open(target, 'r');
    const file = input;
    const stream = dir
      ? file.createReadStream({ highWaterMark: 8 << 20, autoClose: false })
      : follow(file, () => exited);
    const stats = await writeXenImage(image, {
      stream,
      map,
      blocks,
      disks: frozen.disks,
      diskHashes: hashes.then((h) => [...h].map(([id, hash]) => ({ id, hash }))),
      hasher,
      beforeCommit: async () => void (await xl.done),
    }).catch(async (e: unknown) => {
      // Never kill xl mid-save (it would leave the guest suspended): stop reading a FIFO so xl fails
      // and resumes the guest itself, or let it finish writing its file; then report xl's error if any.
      if ('destroy' in stream) stream.destroy();
      if (dir) {
        await input?.close();
        input = undefined;
      }
      const xlError = await failed;
      // A stream that ended early is xl's failure, told best by xl; a stream we cannot parse is
      // reported as such (not as a failed file write); anything else as it came.
      const cause = e instanceof CheckpointError ? e.cause : e;
      let error = e;
      if (cause instanceof StreamFormatError) {
        error = cause.message.startsWith('Save stream truncated') && xlError !== undefined ? xlError : cause;
      }
      if (xlError === undefined && typeof error === 'object' && error !== null) leftPaused.add(error);
      throw error;
    });
    return { stats, hashes, xlMs: xl.elapsedMs() };
  } finally {
    await input?.close();
    blocks.close();
    await rm(dir ?? target, { recursive: true, force: true });
  }
}

/** Failures after which xl completed its save and left the domain paused (`-p`). */
const leftPaused = new WeakSet<object>();

const FOLLOW_READ = 8 << 20;
const FOLLOW_WAIT_MS = 10;

/** Reads a file another process is still writing, until that process has exited and all is read. */
async function* follow(file: FileHandle, exited: () => boolean): AsyncGenerator<Uint8Array> {
  let pos = 0;
  for (;;) {
    // Checked before reading: a read that starts after the writer exited sees all it wrote.
    const last = exited();
    const buf = new Uint8Array(FOLLOW_READ);
    const { bytesRead } = await file.read(buf, 0, buf.length, pos);
    if (bytesRead > 0) {
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    } else if (last) {
      return;
    } else {
      await new Promise((r) => setTimeout(r, FOLLOW_WAIT_MS));
    }
  }
}
