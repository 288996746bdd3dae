/**
 * `leanckpt xen restore`: brings a Xen image back as a running domain.
 *  0. start the new tracking process ahead (DomainAttacher.prepare), so its start overlaps the rest;
 *  1. hand `xl restore -p` a stream, from a FIFO as it is produced (default) or staged in a file beside
 *     the image (`--stream file`); xl leaves the domain it builds paused. Two ways (`--fill`):
 *     - direct (default): the sparse stream (image/sparse.ts), without the pages the image left out; xl
 *       only allocates those, and they are then written straight into the paused domain from the disks
 *       and zeroed, each disk page checked by its hash where it lies in guest memory (fill.ts);
 *     - stream: the original `xl save` stream rebuilt byte for byte, which is the verification: every
 *       page read from a disk against its hash, and the whole stream's hash.
 *     Either way every image record's checksum is checked, and a disk that changed is refused with page
 *     and sector named. Meanwhile each disk's whole content is proven (disk-content-check.ts): by the
 *     file's recorded identity where it still holds, else by its hash, which must match.
 *  2. find the new domain (by the name in the saved config), attach the disk backend to it, hand the
 *     new tracking the pages read from the disks (its map starts with them), unpause.
 * The domain runs only once every check has passed; any failure destroys it.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { RestoreError } from '../../core/errors.ts';
import type { Hasher64 } from '../../core/hash.ts';
import { diskFileStore, fileSectors, freezeCopy, type DiskFile } from './disk-files.ts';
import { DiskContentCheck, type DiskCheck, type ProvenBy } from './disk-content-check.ts';
import type { RecordedContent, XenDisk } from './image/format.ts';
import { XenImageReader, type XenImageItem } from './image/reader.ts';
import { rebuildXenStream, type RebuildResult, type StreamSink } from './image/rebuild.ts';
import { cpuMark, cpuSince, type CpuMark, type CpuMs } from './cpu-time.ts';
import { sparseXenStream, type PvP2mFrames, type SparseResult } from './image/sparse.ts';
import { xlDirectory, type DomainDirectory } from './domain-directory.ts';
import { fillGuestMemory, type FillResult, type GuestMemory } from './fill.ts';
import type { StreamTransport } from './save.ts';
import { XL_HEADER_SIZE } from './stream/format.ts';
import type { AdoptionReport, DomainAttacher, RestoredDisk, RestoredMap } from './tracked-domain.ts';
import { growStreamPipe, makeFifo, runXl, startXl } from './xl-process.ts';

export interface XenRestoreOptions {
  /** Disk files by device name (e.g. xvda), replacing the paths recorded in the image. */
  readonly disks?: Readonly<Record<string, string>>;
  /** Run the guest on a reflink copy of each disk, so the image stays restorable. */
  readonly cloneDisks?: boolean;
  readonly hasher: Hasher64;
  /** How the stream reaches `xl restore` (default `fifo`, see StreamTransport in save.ts). */
  readonly transport?: StreamTransport;
  /** How left-out pages come back (default `direct`): see the top of this file. */
  readonly fill?: FillMode;
  /** How each disk's whole content is proven (default `identity`): see disk-content-check.ts. */
  readonly diskCheck?: DiskCheck;
  /** Writable access to a paused domain's pages, for `fill: 'direct'` (all the pfns it will map). */
  readonly memory?: GuestMemoryFactory;
  /** Domain names and unpausing (default: through xl). */
  readonly directory?: DomainDirectory;
}

/**
 * Writable access to the paused domain `domid`, for every pfn in `pfns`; `p2m` says where a PV guest's
 * p2m lies (see PvP2mFrames).
 */
export type GuestMemoryFactory = (
  domid: number,
  pfns: readonly Uint32Array[],
  p2m?: PvP2mFrames,
) => GuestMemory | Promise<GuestMemory>;

/** `direct`: a sparse stream, then the pages written into the paused domain; `stream`: the whole stream. */
export type FillMode = 'direct' | 'stream';

export interface XenRestoreResult {
  readonly image: string;
  readonly domid: number;
  readonly name: string;
  readonly guest: 'pv' | 'hvm';
  readonly fill: FillMode;
  readonly disks: readonly (RestoredDisk & { readonly provenBy: ProvenBy })[];
  readonly pagesMapped: number;
  /** What the new tracking process did with those pages (absent if the attacher takes none). */
  readonly adoption?: AdoptionReport;
  /** Bytes of the saved `xl save` stream. */
  readonly streamBytes: number;
  /** Bytes `xl restore` read: the stream, or the sparse stream of a direct fill. */
  readonly xlBytes: number;
  readonly imageBytes: number;
  readonly diskReads: number;
  /** A direct fill's phases: access to guest memory (PV: finding its frames), then FillResult.ms. */
  readonly fillMs?: {
    readonly open: number;
    readonly zero: number;
    readonly read: number;
    readonly check: number;
  };
  readonly ms: {
    /** Up to xl's start: the image's header, the saved domain name, no domain of that name. */
    readonly verify: number;
    /** Producing the stream and `xl restore` reading it. */
    readonly restore: number;
    /** Direct fill: writing and checking the left-out pages (0 for `stream`). */
    readonly fill: number;
    readonly attach: number;
    /** Of `attach`: waiting for the tracking process to take the domain and the pages, then unpausing. */
    readonly tracking: number;
    readonly unpause: number;
    /** When the tracking process started ahead had loaded, and served the domain, from the start. */
    readonly trackerLoaded?: number;
    readonly trackerReady?: number;
    readonly total: number;
    /**
     * When every disk's whole content was proven (hashed, or found unchanged by identity), counted from
     * the start (this runs beside the rest).
     */
    readonly diskHash: number;
    /** `--stream file`: how long `xl restore` took, of `restore`, once the stream was staged. */
    readonly xl?: number;
    /** Through a FIFO: when the whole stream was written into it, from the start (xl then finishes). */
    readonly streamWritten?: number;
  };
  /** CPU time of this process over `ms.total` (not xl's, nor the tracking process's). */
  readonly cpuMs: CpuMs;
}

/** Disk files for the image's disks: overrides by device name, else the recorded paths. */
async function diskFiles(
  disks: readonly XenDisk[],
  overrides: Readonly<Record<string, string>>,
): Promise<DiskFile[]> {
  for (const vdev of Object.keys(overrides)) {
    if (!disks.some((d) => d.vdev === vdev)) {
      throw new RestoreError(
        `the image has no disk ${vdev} (it has ${disks.map((d) => d.vdev).join(', ') || 'none'})`,
      );
    }
  }
  return Promise.all(
    disks.map(async (d) => {
      const path = resolve(overrides[d.vdev] ?? d.path);
      try {
        return { id: d.id, path, sectors: await fileSectors(path) };
      } catch (e) {
        throw new RestoreError(
          `disk ${d.vdev}: cannot use ${path}: ${(e as Error).message}`,
          undefined,
          d.id,
        );
      }
    }),
  );
}

/**
 * The domain name recorded in the image's xl config, from the image's first items (`items`, of a reader
 * just opened): the xl header and config open the stream, so a few items are read at most.
 */
export async function savedDomainName(items: AsyncIterator<XenImageItem>, image: string): Promise<string> {
  const parts: Uint8Array[] = [];
  let have = 0;
  for (let next = await items.next(); !next.done; next = await items.next()) {
    const item = next.value;
    if (item.kind !== 'stream') break;
    parts.push(item.bytes.slice());
    have += item.bytes.length;
    if (have >= XL_HEADER_SIZE + 4) {
      const head = Buffer.concat(parts);
      const optLen = head.readUInt32LE(44);
      if (have < XL_HEADER_SIZE + optLen) continue;
      const configLen = head.readUInt32LE(XL_HEADER_SIZE);
      const json = head.subarray(XL_HEADER_SIZE + 4, XL_HEADER_SIZE + 4 + configLen).toString('utf8');
      try {
        const name = (JSON.parse(json.replace(/\0$/, '')) as { c_info?: { name?: unknown } }).c_info?.name;
        if (typeof name === 'string' && name) return name;
      } catch {
        // fall through to the error below
      }
      break;
    }
  }
  throw new RestoreError(`${image}: the saved xl config names no domain (c_info.name)`);
}

export async function restoreDomain(
  imagePath: string,
  attacher: DomainAttacher,
  opts: XenRestoreOptions,
): Promise<XenRestoreResult> {
  const image = resolve(imagePath);
  const t0 = performance.now();
  const cpu0 = cpuMark();
  // The tracking process starts now, beside the rebuild and xl restore, not after them.
  attacher.prepare?.();
  try {
    return await restoreWith(image, attacher, opts, t0, cpu0);
  } catch (e) {
    // Unused if the restore failed before the attach; a no-op once attach() took it.
    attacher.abandon?.();
    throw e;
  }
}

async function restoreWith(
  image: string,
  attacher: DomainAttacher,
  opts: XenRestoreOptions,
  t0: number,
  cpu0: CpuMark,
): Promise<XenRestoreResult> {
  const { hasher } = opts;
  const directory = opts.directory ?? xlDirectory;
  const header = await XenImageReader.open(image, hasher);
  // Only DISK records precede the stream: once the name is read from its start, the disks are known.
  // One reader for both: under an emulated CPU each opening (a 4 MiB read, a 1 MiB record's checksum)
  // cost about a quarter of a second before xl could start.
  const first = header.items();
  let name: string;
  try {
    name = await savedDomainName(first, image);
  } finally {
    await first.return(undefined);
  }
  const files = await diskFiles(header.disks, opts.disks ?? {});
  const blocks = diskFileStore(files);
  const transport = opts.transport ?? 'fifo';
  const fill = opts.fill ?? 'direct';
  // The disks' whole content, proven before the domain runs (disk-content-check.ts), beside the rest:
  // from the start when the whole stream is rebuilt, each disk read (staged, before xl reads it); for a
  // direct fill once the image's records are read, so where the image recorded a file's identity and
  // the file still has it the disk is not read at all. Reads then wait until xl has the whole sparse
  // stream (through a FIFO: once it is written, while xl reads its last bytes and builds the domain;
  // staged: once `xl restore` is done), so that they do not slow xl down while it reads (on a two-CPU
  // emulated dom0 they ran for 6-7 s of the 9-10 s that xl's stream took).
  const content = new DiskContentCheck(header.disks, files, hasher, opts.diskCheck ?? 'identity', t0);
  if (fill === 'stream') content.start();
  try {
    const clash = await directory.domidOf(name);
    if (clash !== undefined) {
      throw new RestoreError(
        `a domain named ${name} exists already (domid ${clash}): destroy or rename it first`,
      );
    }
  } catch (e) {
    blocks.close();
    throw e;
  }
  const t1 = performance.now();

  let fillMs: XenRestoreResult['fillMs'];
  let domid: number | undefined;
  // Settles once the pages read from the disks are in place and checked (or the restore failed).
  let verify: { resolve(): void; reject(e: unknown): void } | undefined;
  let attaching: Promise<AdoptionReport | void> | undefined;
  try {
    // Staged in a file, xl sees the stream only once it is complete; a rebuilt stream is then also
    // proven (every page, the stream's hash) and the disks' content checked before xl reads a byte.
    // Through a FIFO, xl reads the stream as it is produced into a domain it leaves paused (-p).
    let provenBy = new Map<number, ProvenBy>();
    const check = async (r: { diskHashes: ReadonlyMap<number, RecordedContent> }) => {
      provenBy = await content.check(r.diskHashes);
    };
    const produce =
      fill === 'stream'
        ? (sink: StreamSink) => rebuildXenStream(image, blocks, hasher, sink, { collectMap: true })
        : (sink: StreamSink) => sparseXenStream(image, hasher, sink);
    const marks: { xl?: number; produced?: number } = {};
    const made = await (transport === 'file'
      ? xlRestoreStaged<RebuildResult | SparseResult>(
          image,
          produce,
          fill === 'stream' ? check : undefined,
          marks,
        )
      : xlRestoreFifo<RebuildResult | SparseResult>(produce, (r) => {
          marks.produced = performance.now() - t0;
          attacher.hurry?.();
          content.start(r.diskHashes);
        }));
    domid = await directory.domidOf(name);
    if (domid === undefined) throw new RestoreError(`xl restore finished but no domain is named ${name}`);
    const t2 = performance.now();
    content.start(made.diskHashes); // a direct fill's, if not started yet (see above)

    const disks = await restoredDisks(header.disks, files, opts.cloneDisks ? `${name}-${domid}` : undefined);
    // The new tracking process is told the domain and the pages now, so that its attaching and its
    // reading of the pages' map overlap the fill; it adopts them only once they are in place and
    // checked, and the domain stays paused throughout.
    const verified = new Promise<void>((resolve, reject) => (verify = { resolve, reject }));
    verified.catch(() => undefined);
    const map = 'plan' in made ? made.plan.mapped : made.map;
    attaching = attacher.attach(domid, disks, { map, verified, content: content.chunks() });
    attaching.catch(() => undefined);

    let restored: Restored;
    if ('plan' in made) {
      const { plan } = made;
      if (!opts.memory) throw new Error('a direct fill needs access to guest memory');
      const memory = await opts.memory(domid, [plan.zero, plan.mapped.pfn], made.p2m);
      const opened = performance.now() - t2;
      let filled: FillResult;
      try {
        filled = await fillGuestMemory(plan, memory, blocks, hasher);
      } finally {
        memory.close();
      }
      fillMs = { open: opened, ...filled.ms };
      restored = {
        guest: made.end.guest,
        map: plan.mapped,
        pagesMapped: filled.pagesFromDisk,
        diskReads: filled.diskReads,
        streamBytes: made.end.streamBytes,
        xlBytes: made.bytes,
      };
    } else {
      restored = {
        guest: made.end.guest,
        map: made.map,
        pagesMapped: made.pagesMapped,
        diskReads: made.diskReads,
        streamBytes: made.bytes,
        xlBytes: made.bytes,
      };
    }
    await check(made);
    const t3 = performance.now();
    // Without the map (it could not be read) the domain runs all the same, its tracking starts empty.
    verify!.resolve();
    const adoption = (await attaching) ?? undefined;
    const tracked = performance.now();
    await directory.unpause(domid);
    const t4 = performance.now();
    const { loaded, ready } = attacher.timeline?.() ?? {};
    return {
      image,
      domid,
      name,
      guest: restored.guest,
      fill,
      disks: disks.map((d) => ({ ...d, provenBy: provenBy.get(d.id)! })),
      pagesMapped: restored.pagesMapped,
      ...(adoption ? { adoption } : {}),
      streamBytes: restored.streamBytes,
      xlBytes: restored.xlBytes,
      imageBytes: header.size,
      diskReads: restored.diskReads,
      ...(fillMs ? { fillMs } : {}),
      ms: {
        verify: t1 - t0,
        restore: t2 - t1,
        fill: t3 - t2,
        attach: t4 - t3,
        tracking: tracked - t3,
        unpause: t4 - tracked,
        ...(loaded !== undefined ? { trackerLoaded: loaded - t0 } : {}),
        ...(ready !== undefined ? { trackerReady: ready - t0 } : {}),
        total: t4 - t0,
        diskHash: content.provenAt,
        ...(marks.xl !== undefined ? { xl: marks.xl } : {}),
        ...(marks.produced !== undefined ? { streamWritten: marks.produced } : {}),
      },
      cpuMs: cpuSince(cpu0),
    };
  } catch (e) {
    verify?.reject(e);
    await attaching?.catch(() => undefined);
    // A domain xl created from a stream or fill we could not finish must not run.
    await runXl(['destroy', domid === undefined ? name : String(domid)]).catch(() => undefined);
    throw e;
  } finally {
    blocks.close();
  }
}

/** The disks the restored domain runs on: the image's files, or a reflink copy of each (`clone`). */
async function restoredDisks(
  saved: readonly XenDisk[],
  files: readonly DiskFile[],
  clone: string | undefined,
): Promise<RestoredDisk[]> {
  const out: RestoredDisk[] = [];
  for (const d of saved) {
    const file = files.find((f) => f.id === d.id)!;
    let path = file.path;
    if (clone) {
      path = `${file.path}.${clone}.raw`;
      await freezeCopy(file.path, path);
    }
    out.push({ id: d.id, vdev: d.vdev, path });
  }
  return out;
}

/** What either way of restoring learnt, for the attach and the result. */
interface Restored {
  readonly guest: 'pv' | 'hvm';
  readonly map: RestoredMap | undefined;
  readonly pagesMapped: number;
  readonly diskReads: number;
  readonly streamBytes: number;
  readonly xlBytes: number;
}

const writeAll = (file: FileHandle) => async (bytes: Uint8Array) => {
  let at = 0;
  while (at < bytes.length) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
};

/**
 * Stages what `produce` writes in a file beside the image, runs `check` on its outcome, then has
 * `xl restore -p` read the file; the file is removed afterwards, whatever happened.
 */
async function xlRestoreStaged<T>(
  image: string,
  produce: (sink: StreamSink) => Promise<T>,
  check?: (result: T) => Promise<void>,
  marks: { xl?: number } = {},
): Promise<T> {
  const path = join(dirname(image), `.${basename(image)}.xlstream-${process.pid}`);
  try {
    const file = await open(path, 'wx');
    let result: T;
    try {
      result = await produce(writeAll(file));
    } finally {
      await file.close();
    }
    await check?.(result);
    marks.xl = performance.now();
    await runXl(['restore', '-p', '-e', path]);
    marks.xl = performance.now() - marks.xl;
    return result;
  } finally {
    await rm(path, { force: true });
  }
}

/** Has `xl restore -p` read what `produce` writes through a FIFO as it is written: nothing on disk. */
async function xlRestoreFifo<T>(
  produce: (sink: StreamSink) => Promise<T>,
  onProduced: (result: T) => void = () => {},
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'leanckpt-restore-'));
  const fifo = join(dir, 'stream');
  try {
    await makeFifo(fifo);
    const xl = startXl(['restore', '-p', '-e', fifo]);
    const failed = xl.done.then(
      () => undefined,
      async (e: unknown) => {
        // Unblock our open() if xl died before opening its end.
        await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
          .then((h) => h.close())
          .catch(() => undefined);
        return e;
      },
    );
    const out = await open(fifo, 'w');
    growStreamPipe(out.fd);
    let result: T;
    try {
      result = await produce(writeAll(out));
    } catch (e) {
      xl.kill();
      const xlError = await Promise.race([failed, new Promise((r) => setTimeout(r, 2000, undefined))]);
      // A broken pipe means xl stopped reading: its message is the one to report.
      throw (e as NodeJS.ErrnoException).code === 'EPIPE' && xlError ? xlError : e;
    } finally {
      await out.close();
    }
    // xl still reads the pipe's last bytes and then builds the domain: the caller may start on more.
    onProduced(result);
    await xl.done;
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
