/**
 * `leanckpt xen save`: checkpoint a tracked domain into a Xen image.
 *  1. start `xl save -p <domid> <fifo or file>`; the backend keeps serving the guest's disk until the
 *     domain has suspended (a guest freezing for the suspend must be able to finish its own I/O: a
 *     backend quiesced first left a task stuck in D state and the suspend failed, lab 2026-11-26);
 *  2. then quiesce the backend (requests in flight answered, none taken) and take the page map;
 *  3. freeze the disks: with --keep-running a reflink (or plain) copy next to the image, otherwise the
 *     disk files themselves, which nothing writes once the domain is gone. Their content hashes come
 *     from the tracking (TrackedDomain.quiescedContent, asked for now and given beside the filter),
 *     or are read from the frozen disks meanwhile;
 *  4. filter the stream into the image as it arrives (every page checked against the disk as frozen),
 *     committed atomically only if xl succeeded and every copy is whole and flushed. The copies are
 *     made beside the filter, which reads the live disks meanwhile: until the guest resumes (after
 *     the commit) nothing writes them, so they hold what the copies will;
 *  5. --keep-running: resume the backend (re-enabling log-dirty, which xl save turned off) and unpause;
 *     otherwise destroy the domain, as a plain `xl save` does, and release its tracking meanwhile.
 * Requests the backend answers between the suspend and the quiesce are harmless: the page filter checks
 * every left-out page against the disk as frozen after them, and blkfront re-issues after the resume
 * every request whose answer it had not seen.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Hasher64 } from '../../core/hash.ts';
import { CheckpointError, EnvironmentError, withContext } from '../../core/errors.ts';
import { StreamFormatError } from './stream/errors.ts';
import { GrowingFileSource } from './stream/file-source.ts';
import { diskFileStore, freezeCopy, hashFileChunks, type DiskFile } from './disk-files.ts';
import { CONTENT_CHUNK_SECTORS, digestChunks, type ChunkedContent } from './content/chunk-hashes.ts';
import { settledIdentity, type SettledIdentity } from './content/file-identity.ts';
import type { XenDisk, XenDiskHash } from './image/format.ts';
import { writeXenImage, type XenImageStats } from './image/save-image.ts';
import type {
  PageMapView,
  QuiescedContent,
  QuiesceTiming,
  TrackedDisk,
  TrackedDomain,
} from './tracked-domain.ts';
import { checkRoomForCopies, type RoomProbe } from './copy-room.ts';
import { cpuMark, cpuSince, type CpuMs } from './cpu-time.ts';
import { DomainNotSuspendedError } from './suspend-wait.ts';
import { growStreamPipe, makeFifo, runXl, startXl, type XlRun } from './xl-process.ts';

export interface XenSaveOptions {
  readonly keepRunning: boolean;
  readonly hasher: Hasher64;
  /** How the stream reaches the filter (default `file`, see StreamTransport). */
  readonly transport?: StreamTransport;
  /**
   * Resolves once the domain has suspended for the save; rejects if `xlDone` settles first. Without it
   * the backend is quiesced as soon as xl has started (for test doubles, whose xl suspends nothing).
   */
  readonly untilSuspended?: (domid: number, xlDone: Promise<unknown>) => Promise<void>;
  /** How --keep-running copies a disk (default freezeCopy: whole and flushed when it resolves). */
  readonly copyDisk?: (src: string, dst: string) => Promise<void>;
  /** Where --keep-running's room for the copies is measured (default: the file system itself). */
  readonly room?: RoomProbe;
}

export interface XenSaveResult {
  readonly image: string;
  readonly domid: number;
  readonly keepRunning: boolean;
  readonly guest: 'pv' | 'hvm';
  /**
   * `contentHash`: where the recorded content hash came from: kept current by the tracking (`tracked`),
   * or read from the frozen disk during the save (`read`).
   */
  readonly disks: readonly (XenDisk & {
    readonly hash: string;
    readonly contentHash: 'tracked' | 'read';
    /** Whether the image records the frozen file's identity (content/file-identity.ts). */
    readonly identity: boolean;
  })[];
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
  /** `--stream file`: how many times reading the stream waited for `xl save` to write more. */
  readonly streamWaits?: number;
  readonly ms: {
    /** From starting `xl save` until the domain had suspended (the backend serving meanwhile). */
    readonly suspend: number;
    readonly quiesce: number;
    readonly freeze: number;
    /** --keep-running: how long the disk copies took, beside the filter. */
    readonly copy?: number;
    /** From starting `xl save` until both it and the image are done. */
    readonly save: number;
    /** The `xl save` process alone: what `save` adds beyond it is leanckpt's. */
    readonly xl: number;
    readonly after: number;
    readonly total: number;
  };
  /** Where the tracking process's part of `ms.quiesce` went, if it said. */
  readonly quiesceTiming?: QuiesceTiming;
  /** What giving the disks' content hashes cost the tracking (beside the filter), if it did. */
  readonly trackedContent?: { readonly ms: number; readonly chunksHashed: number };
  /** CPU time of this process over `ms.total` (not xl's, nor the tracking process's). */
  readonly cpuMs: CpuMs;
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
  const cpu0 = cpuMark();
  const copies: string[] = [];
  let frozen: Frozen | undefined;
  let quiesced = false;
  let saved = false;
  // Before xl suspends the guest: a save refused for want of room costs the guest nothing.
  if (opts.keepRunning) await checkRoomForCopies(domain.disks(), dirname(image), opts.room);
  const run = await startSave(opts.transport ?? 'file', domain.domid, image);
  try {
    await (opts.untilSuspended?.(domain.domid, run.xl.done) ?? Promise.resolve());
    const t1 = performance.now();
    const map = await domain.quiesce();
    quiesced = true;
    // Asked now, answered while the stream is filtered; a tracking that cannot answer costs a read.
    const tracked = domain.quiescedContent?.().catch(() => undefined) ?? Promise.resolve(undefined);
    const t2 = performance.now();
    frozen = freeze(domain.disks(), image, opts.keepRunning && (opts.copyDisk ?? freezeCopy), copies);
    const t3 = performance.now();
    const stats = await run.filter(frozen, map, opts.hasher, tracked);
    const copyMs = await frozen.copied;
    const hashes = await stats.hashes;
    const trackedContent = await tracked;
    saved = true;
    const t4 = performance.now();
    if (opts.keepRunning) {
      await domain.resume();
      await runXl(['unpause', String(domain.domid)]);
    } else {
      // Side by side: the suspended guest never runs again, so its backend can stop while xl tears
      // the domain down. (In the lab it made no difference: 0.4 s either way, xl's part the longer.)
      await settleBoth(runXl(['destroy', String(domain.domid)]), domain.release());
    }
    const t5 = performance.now();
    const s = stats.stats;
    return {
      image,
      domid: domain.domid,
      keepRunning: opts.keepRunning,
      guest: s.stream.guestType ?? 'pv',
      disks: frozen.disks.map((d) => ({
        ...d,
        hash: hashes.get(d.id)!.hash.toString(16).padStart(16, '0'),
        contentHash: hashes.get(d.id)!.source,
        identity: hashes.get(d.id)!.file !== undefined,
      })),
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
      ...(stats.waits !== undefined ? { streamWaits: stats.waits } : {}),
      ms: {
        suspend: t1 - t0,
        quiesce: t2 - t1,
        freeze: t3 - t2,
        ...(opts.keepRunning ? { copy: copyMs } : {}),
        save: t4 - t0,
        xl: run.xl.elapsedMs(),
        after: t5 - t4,
        total: t5 - t0,
      },
      ...(map.timing ? { quiesceTiming: map.timing } : {}),
      ...(trackedContent
        ? { trackedContent: { ms: trackedContent.ms, chunksHashed: trackedContent.chunksHashed } }
        : {}),
      cpuMs: cpuSince(cpu0),
    };
  } catch (err) {
    const error = await run.abandon(err);
    if (!saved) {
      // A copy still under way would land after its removal.
      await frozen?.copied.catch(() => undefined);
      for (const c of copies) await rm(c, { force: true });
      // The guest goes on as before the save: the backend serves it again (xl resumes a domain whose
      // save failed; one whose save xl completed is paused and is unpaused here).
      if (quiesced) await domain.resume().catch(() => undefined);
      if (typeof error === 'object' && error !== null && leftPaused.has(error)) {
        await runXl(['unpause', String(domain.domid)]).catch(() => undefined);
      }
    }
    throw error;
  } finally {
    await run.close();
  }
}

interface Frozen {
  /** As the image records them: with --keep-running, the copies. */
  readonly disks: XenDisk[];
  /** What the save reads: the disks themselves, which hold the frozen content until the guest resumes. */
  readonly files: DiskFile[];
  /** Resolves, with the time they took, once every copy is whole and flushed (at once without copies). */
  readonly copied: Promise<number>;
  /** Each recorded file's settled identity (undefined where it could not be had), in `disks` order. */
  readonly identities: Promise<(SettledIdentity | undefined)[]>;
}

/** Starts the --keep-running copies (beside the filter, see above); names the disks the image records. */
function freeze(
  disks: readonly TrackedDisk[],
  image: string,
  copy: false | ((src: string, dst: string) => Promise<void>),
  copies: string[],
): Frozen {
  const files = disks.map((d) => ({ id: d.id, path: d.path, sectors: d.sectors }));
  const at = disks.map((d) => (copy ? frozenDiskPath(image, d.vdev) : d.path));
  copies.push(...(copy ? at : []));
  const t0 = performance.now();
  const copied = copy
    ? Promise.all(
        disks.map(async (d, i) => {
          try {
            await rm(at[i]!, { force: true });
            await copy(d.path, at[i]!);
          } catch (e) {
            throw withContext(`cannot copy disk ${d.vdev} (${d.path}) to ${at[i]} for --keep-running`, e);
          }
        }),
      ).then(() => performance.now() - t0)
    : Promise.resolve(0);
  copied.catch(() => undefined);
  // Of the files the image names, once nothing of ours writes them: the disks are quiesced by now, the
  // copies once made. A file that cannot be stat'ed, or keeps changing, is hashed by the restore.
  const identities = Promise.all(
    at.map(async (path) => {
      if (copy) await copied;
      return settledIdentity(path);
    }),
  ).catch(() => at.map(() => undefined));
  return {
    disks: disks.map((d, i) => ({ id: d.id, sectors: d.sectors, vdev: d.vdev, path: at[i]! })),
    files,
    copied,
    identities,
  };
}

/**
 * How the stream passes between xl and leanckpt. `fifo`: through a named pipe grown to 8 MiB (see
 * STREAM_PIPE_BYTES), nothing on disk. `file`: xl writes a temporary file beside the image, which the
 * save's filter reads as it grows (needing the stream's size in free space meanwhile); a restore stages
 * the whole rebuilt stream in one before xl reads it. Measured in the lab (two CPUs, 256 MiB PV guest,
 * against a plain `xl save`/`xl restore` in the same run): restores through the FIFO took 2.9-3.4x,
 * staged 4.1-6.5x, as xl reads while leanckpt rebuilds; saves took 2.1x through the FIFO and 0.7-2.2x
 * through the file. So a save defaults to `file` and a restore to `fifo`. (With Linux's 64 KiB pipe
 * the FIFO was slower both ways: 3.1-3.6x and 5.1-8.9x.)
 */
export type StreamTransport = 'fifo' | 'file';

interface SaveRun {
  readonly xl: XlRun;
  /** Filters the stream into the image; rejects (without stopping xl) if anything fails. */
  filter(
    frozen: Frozen,
    map: PageMapView,
    hasher: Hasher64,
    tracked: Promise<QuiescedContent | undefined>,
  ): Promise<{ stats: XenImageStats; hashes: Promise<Map<number, SavedDiskHash>>; waits?: number }>;
  /**
   * After a failure: never kill xl mid-save (it would leave the guest suspended); stop reading a FIFO so
   * xl fails and resumes the guest itself, or let it finish writing its file. Returns the error to
   * report: xl's own when the stream ended early or the domain never suspended.
   */
  abandon(err: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts `xl save -p` into a FIFO or a file, with the reading end open (xl blocks on a FIFO until then). */
async function startSave(transport: StreamTransport, domid: number, image: string): Promise<SaveRun> {
  const dir = transport === 'fifo' ? await mkdtemp(join(tmpdir(), 'leanckpt-save-')) : undefined;
  const target = dir
    ? join(dir, 'stream')
    : join(dirname(image), `.${basename(image)}.xlstream-${process.pid}`);
  let input: FileHandle | undefined;
  const cleanup = async (): Promise<void> => {
    await input?.close();
    input = undefined;
    await rm(dir ?? target, { recursive: true, force: true });
  };
  if (dir) await makeFifo(target);
  else
    input = await open(target, 'wx+').catch(async (e: unknown) => {
      await cleanup();
      throw e;
    });
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
  if (dir) growStreamPipe(input.fd);
  return {
    xl,
    async filter(frozen, map, hasher, tracked) {
      const blocks = diskFileStore(frozen.files);
      // Each disk's content: as the tracking kept it, or else read from the frozen disk meanwhile; with
      // the file's identity, so that a restore finding it unchanged need not read it again.
      const hashes = Promise.all(
        frozen.files.map(async (f, i) => {
          const kept = agreeing((await tracked)?.hashes.get(f.id), hasher);
          const c: ChunkedContent = kept ?? (await hashFileChunks(f.path, hasher, CONTENT_CHUNK_SECTORS));
          const file = (await frozen.identities)[i];
          const h: SavedDiskHash = {
            id: f.id,
            hash: c.hash,
            chunkSectors: c.chunkSectors,
            chunks: c.chunks,
            source: kept ? 'tracked' : 'read',
          };
          return file ? { ...h, file } : h;
        }),
      ).then((all) => new Map(all.map((h) => [h.id, h])));
      hashes.catch(() => undefined);
      const file = input!;
      const stream = dir ? drain(file) : new GrowingFileSource(file, () => exited);
      try {
        const stats = await writeXenImage(image, {
          stream,
          map,
          blocks,
          disks: frozen.disks,
          diskHashes: hashes.then((h) => [...h.values()]),
          hasher,
          beforeCommit: async () => {
            await xl.done;
            await frozen.copied;
          },
        });
        return { stats, hashes, ...(stream instanceof GrowingFileSource ? { waits: stream.waits } : {}) };
      } finally {
        blocks.close();
      }
    },
    async abandon(e) {
      if (dir) {
        await input?.close();
        input = undefined;
      }
      const xlError = await failed;
      // A stream that ended early is xl's failure, told best by xl; a stream we cannot parse is
      // reported as such (not as a failed file write); anything else as it came.
      const cause = e instanceof CheckpointError ? e.cause : e;
      let error = e;
      if (cause instanceof EnvironmentError) {
        error = cause; // a copy the system refused: what the user must fix, named as such
      } else if (cause instanceof StreamFormatError) {
        error = cause.message.startsWith('Save stream truncated') && xlError !== undefined ? xlError : cause;
      } else if (xlError !== undefined && e instanceof DomainNotSuspendedError) {
        error = xlError;
      }
      if (xlError === undefined && typeof error === 'object' && error !== null) leftPaused.add(error);
      return error;
    },
    close: cleanup,
  };
}

/** A disk's content as the image records it, and where its hash came from (see XenSaveResult). */
interface SavedDiskHash extends XenDiskHash {
  readonly source: 'tracked' | 'read';
}

/**
 * The tracking's content hash, if its chunks' hashes digest to it (or it is a whole-file hash, which has
 * none): an image whose DISK_CHUNKS disagree with its hash is refused by every reader, so a disagreeing
 * answer is not used and the disk is read instead.
 */
function agreeing(c: ChunkedContent | undefined, hasher: Hasher64): ChunkedContent | undefined {
  if (!c) return undefined;
  return c.chunkSectors === 0 || digestChunks(hasher, c.chunks) === c.hash ? c : undefined;
}

/** Waits for both, whatever either does, then throws the first failure (in argument order). */
async function settleBoth(a: Promise<unknown>, b: Promise<unknown>): Promise<void> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
}

/** Failures after which xl completed its save and left the domain paused (`-p`). */
const leftPaused = new WeakSet<object>();

/** A pipe gives at most 64 KiB a read; this bounds the buffer all the same. */
const PIPE_READ = 1 << 20;

/**
 * Reads a pipe to its end into one reused buffer: the parser copies what it keeps before it reads on
 * (ByteSource's contract). A file stream would allocate its whole high-water mark for every read, and
 * a fresh buffer per read made allocation and garbage collection the largest cost of a lab save. A
 * Uint8Array, not a Buffer: the filter takes views of every page, and a Buffer's are dearer.
 */
async function* drain(pipe: FileHandle): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(PIPE_READ);
  for (;;) {
    const { bytesRead } = await pipe.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return;
    yield buf.subarray(0, bytesRead);
  }
}
