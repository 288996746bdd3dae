/**
 * `leanckpt xen restore`: brings a Xen image back as a running domain.
 *  0. start the new tracking process ahead (DomainAttacher.prepare), so its start overlaps the rest;
 *  1. rebuild the original `xl save` stream byte for byte, which is the verification: every checksum
 *     of the image, every page read from a disk (refusing, with page and sector named, if the disk
 *     changed) and the whole stream's hash; each disk's whole-content hash is computed meanwhile and
 *     must match. By default nothing is staged:
 *  2. `xl restore -p` reads the stream from a FIFO as it is rebuilt and checked, into a domain it leaves
 *     paused; any failure destroys that domain. With `--stream file` the stream is staged in a file
 *     beside the image and xl reads it once all of step 1 has passed;
 *  3. find the new domain (by the name in the saved config), attach the disk backend to it, hand the
 *     new tracking the pages step 1 read from the disks (its map starts with them), unpause.
 * Either way the domain runs only once every check has passed.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { RestoreError } from '../../core/errors.ts';
import type { Hasher64 } from '../../core/hash.ts';
import type { BlockStore } from '../../core/ports.ts';
import { diskFileStore, fileSectors, freezeCopy, hashFile, type DiskFile } from './disk-files.ts';
import type { XenDisk } from './image/format.ts';
import { XenImageReader } from './image/reader.ts';
import { contentIdentity, rebuildXenStream, type RebuildResult } from './image/rebuild.ts';
import type { StreamTransport } from './save.ts';
import { XL_HEADER_SIZE } from './stream/format.ts';
import type { AdoptionReport, DomainAttacher, RestoredDisk } from './tracked-domain.ts';
import { growStreamPipe, makeFifo, runXl, startXl } from './xl-process.ts';

export interface XenRestoreOptions {
  /** Disk files by device name (e.g. xvda), replacing the paths recorded in the image. */
  readonly disks?: Readonly<Record<string, string>>;
  /** Run the guest on a reflink copy of each disk, so the image stays restorable. */
  readonly cloneDisks?: boolean;
  readonly hasher: Hasher64;
  /** How the stream reaches `xl restore` (default `fifo`, see StreamTransport in save.ts). */
  readonly transport?: StreamTransport;
}

export interface XenRestoreResult {
  readonly image: string;
  readonly domid: number;
  readonly name: string;
  readonly guest: 'pv' | 'hvm';
  readonly disks: readonly RestoredDisk[];
  readonly pagesMapped: number;
  /** What the new tracking process did with those pages (absent if the attacher takes none). */
  readonly adoption?: AdoptionReport;
  readonly streamBytes: number;
  readonly imageBytes: number;
  readonly diskReads: number;
  readonly ms: {
    readonly verify: number;
    readonly restore: number;
    readonly attach: number;
    readonly total: number;
  };
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

/** Each disk's whole content must hash to what the image recorded: the guest's file systems expect it. */
async function checkContent(
  disks: readonly XenDisk[],
  recorded: ReadonlyMap<number, bigint>,
  hashes: Promise<ReadonlyMap<number, bigint>>,
): Promise<void> {
  const have = await hashes;
  for (const d of disks) {
    const expected = contentIdentity(recorded.get(d.id)!);
    const got = contentIdentity(have.get(d.id)!);
    if (got !== expected) {
      throw new RestoreError(
        `disk ${d.id} (${d.vdev}): its content is not the one the image was saved with (${got}, expected ${expected})`,
        undefined,
        d.id,
      );
    }
  }
}

/** The domain name recorded in the image's xl config. */
export async function savedDomainName(image: string, hasher: Hasher64): Promise<string> {
  const reader = await XenImageReader.open(image, hasher);
  const parts: Uint8Array[] = [];
  let have = 0;
  for await (const item of reader.items()) {
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
  // The tracking process starts now, beside the rebuild and xl restore, not after them.
  attacher.prepare?.();
  try {
    return await restoreWith(image, attacher, opts, t0);
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
): Promise<XenRestoreResult> {
  const { hasher } = opts;
  const header = await XenImageReader.open(image, hasher);
  // Only DISK records precede the stream; reading the first item is enough to have them all.
  const first = header.items();
  await first.next();
  await first.return(undefined);
  const files = await diskFiles(header.disks, opts.disks ?? {});
  const blocks = diskFileStore(files);
  // The disks' content hashes are computed alongside the rest, and checked before xl runs.
  const hashes = Promise.all(files.map(async (f) => [f.id, await hashFile(f.path, hasher)] as const)).then(
    (pairs) => new Map(pairs),
  );
  hashes.catch(() => undefined);
  const fifo = (opts.transport ?? 'fifo') === 'fifo';
  let staged: Staged | undefined;
  let name: string;
  try {
    name = await savedDomainName(image, hasher);
    const clash = await runXl(['domid', name]).then(
      (out) => out.trim(),
      () => undefined,
    );
    if (clash !== undefined) {
      throw new RestoreError(
        `a domain named ${name} exists already (domid ${clash}): destroy or rename it first`,
      );
    }
    // The rebuild is the verification (each page against its hash, then the whole stream's): staged
    // in a file, xl sees the file only once it is complete and the disks' content checked. Through a
    // FIFO, xl reads the stream as it is rebuilt and checked, into a domain it leaves paused (-p):
    // any failure destroys it, and it is unpaused only once everything passed.
    if (!fifo) {
      staged = await stageStream(image, blocks, hasher);
      await checkContent(header.disks, staged.rebuilt.diskHashes, hashes);
    }
  } catch (e) {
    if (staged) await rm(staged.path, { force: true });
    blocks.close();
    throw e;
  }
  const t1 = performance.now();

  let rebuilt: RebuildResult;
  try {
    rebuilt = staged ? await restoreFromFile(staged) : await restoreThroughFifo(image, blocks, hasher);
    if (!staged) await checkContent(header.disks, rebuilt.diskHashes, hashes);
  } catch (e) {
    // A domain xl created from a stream we could not finish must not run.
    await runXl(['destroy', name]).catch(() => undefined);
    throw e;
  } finally {
    blocks.close();
  }
  const t2 = performance.now();

  const domid = Number((await runXl(['domid', name])).trim());
  if (!Number.isSafeInteger(domid) || domid <= 0) {
    throw new RestoreError(`xl restore finished but \`xl domid ${name}\` gave no domain id`);
  }
  const disks: RestoredDisk[] = [];
  let adoption: AdoptionReport | undefined;
  try {
    for (const d of header.disks) {
      const file = files.find((f) => f.id === d.id)!;
      let path = file.path;
      if (opts.cloneDisks) {
        path = `${file.path}.${name}-${domid}.raw`;
        await freezeCopy(file.path, path);
      }
      disks.push({ id: d.id, vdev: d.vdev, path });
    }
    // Handed over while the domain is still paused (xl restore -p): see TrackingSession.adoptRestored.
    // Without the map (it could not be read) the domain runs all the same, its tracking starts empty.
    const restored = rebuilt.map;
    adoption = (await attacher.attach(domid, disks, restored)) ?? undefined;
    await runXl(['unpause', String(domid)]);
  } catch (e) {
    await runXl(['destroy', String(domid)]).catch(() => undefined);
    throw e;
  }
  const t3 = performance.now();
  return {
    image,
    domid,
    name,
    guest: rebuilt.end.guest,
    disks,
    pagesMapped: rebuilt.pagesMapped,
    ...(adoption ? { adoption } : {}),
    streamBytes: rebuilt.bytes,
    imageBytes: header.size,
    diskReads: rebuilt.diskReads,
    ms: { verify: t1 - t0, restore: t2 - t1, attach: t3 - t2, total: t3 - t0 },
  };
}

const writeAll = (file: FileHandle) => async (bytes: Uint8Array) => {
  let at = 0;
  while (at < bytes.length) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
};

interface Staged {
  readonly path: string;
  readonly rebuilt: RebuildResult;
}

/** Rebuilds the stream into a file beside the image (removed again on failure). */
async function stageStream(image: string, blocks: BlockStore, hasher: Hasher64): Promise<Staged> {
  const path = join(dirname(image), `.${basename(image)}.xlstream-${process.pid}`);
  try {
    const file = await open(path, 'wx');
    try {
      return {
        path,
        rebuilt: await rebuildXenStream(image, blocks, hasher, writeAll(file), { collectMap: true }),
      };
    } finally {
      await file.close();
    }
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}

/** `xl restore` from the staged file (the lab's faster path), which is removed afterwards. */
async function restoreFromFile(staged: Staged): Promise<RebuildResult> {
  try {
    await runXl(['restore', '-p', '-e', staged.path]);
    return staged.rebuilt;
  } finally {
    await rm(staged.path, { force: true });
  }
}

/** Rebuilds the stream into a FIFO that `xl restore` reads while it is produced: nothing on disk. */
async function restoreThroughFifo(
  image: string,
  blocks: BlockStore,
  hasher: Hasher64,
): Promise<RebuildResult> {
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
    let rebuilt: RebuildResult;
    try {
      rebuilt = await rebuildXenStream(image, blocks, hasher, writeAll(out), { collectMap: true });
    } catch (e) {
      xl.kill();
      const xlError = await Promise.race([failed, new Promise((r) => setTimeout(r, 2000, undefined))]);
      // A broken pipe means xl stopped reading: its message is the one to report.
      throw (e as NodeJS.ErrnoException).code === 'EPIPE' && xlError ? xlError : e;
    } finally {
      await out.close();
    }
    await xl.done;
    return rebuilt;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
