/**
 * Disk image files as the Xen save and restore see them: frozen copies (reflink where the file system
 * can, else a plain copy), whole-content hashes, and a block store over them.
 */
import { constants } from 'node:fs';
import { copyFile, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { updateInBackground, type Hasher64 } from '../../core/hash.ts';
import type { BlockStore } from '../../core/ports.ts';
import { FileBlockStore } from '../file/file-block-store.ts';
import { mapFileWindow, type FileWindow } from './ffi/libc.ts';
import { MappedDiskFiles } from './mapped-disks.ts';
import { contentIdentity } from './image/rebuild.ts';

const HASH_PIECE = 8 << 20;
/** Mapped at once: a Uint8Array reaches 4 GiB at most, and a window need not cover a large disk. */
const HASH_WINDOW = 1 << 30;

/** How a whole file is read for its hash: mapped where the platform allows (default), or read. */
export type HashRead = 'map' | 'read';

/**
 * XXH64 of the whole file, hashed off the main thread where the hasher can (updateInBackground), so the
 * save's filter or the restore's fill runs beside it on another CPU. By default the file is mapped and
 * hashed where its pages lie in the page cache: reading it copies every byte once more first, and
 * under an emulated CPU copying 256 MiB took about as long as hashing it (docs/xen.md). Where it cannot
 * be mapped (no libc through koffi, a file system without mmap) it is read in pieces.
 */
export async function hashFile(
  path: string,
  hasher: Hasher64,
  opts: { readonly how?: HashRead; readonly window?: number } = {},
): Promise<bigint> {
  const file = await open(path, 'r');
  try {
    if ((opts.how ?? 'map') === 'map') {
      const mapped = await hashMapped(file, hasher, opts.window ?? HASH_WINDOW);
      if (mapped !== undefined) return mapped;
    }
    return await hashRead(file, hasher);
  } finally {
    await file.close();
  }
}

/**
 * The file's hash through read-only mappings of up to `window` bytes (a multiple of the page size), or
 * undefined if its first window cannot be mapped. The disk files hashed here are frozen (a stopped guest's disk, a copy): one
 * shrinking under the mapping would raise SIGBUS.
 */
async function hashMapped(
  file: FileHandle,
  hasher: Hasher64,
  windowBytes: number,
): Promise<bigint | undefined> {
  const { size } = await file.stat();
  if (size === 0) return undefined;
  const h = hasher.streaming();
  for (let at = 0; at < size; at += windowBytes) {
    let window: FileWindow;
    try {
      window = mapFileWindow(file.fd, at, Math.min(windowBytes, size - at));
    } catch (e) {
      if (at === 0) return undefined;
      throw e;
    }
    try {
      for (let p = 0; p < window.bytes.length; p += HASH_PIECE) {
        await updateInBackground(h, window.bytes.subarray(p, p + HASH_PIECE));
      }
    } finally {
      window.unmap();
    }
  }
  return h.digest();
}

/** The file's hash read in pieces: two buffers take turns, one read into while the other is hashed. */
async function hashRead(file: FileHandle, hasher: Hasher64): Promise<bigint> {
  const h = hasher.streaming();
  const bufs = [Buffer.allocUnsafe(HASH_PIECE), Buffer.allocUnsafe(HASH_PIECE)];
  let hashing = Promise.resolve();
  for (let pos = 0, k = 0; ; k ^= 1) {
    const { bytesRead } = await file.read(bufs[k]!, 0, HASH_PIECE, pos);
    await hashing;
    if (bytesRead === 0) break;
    pos += bytesRead;
    hashing = updateInBackground(h, bufs[k]!.subarray(0, bytesRead));
  }
  return h.digest();
}

/** Copies `src` to `dst`, sharing extents (reflink) where the file system supports it. */
export async function freezeCopy(src: string, dst: string): Promise<void> {
  try {
    await copyFile(src, dst, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
  } catch (e) {
    await rm(dst, { force: true });
    throw e;
  }
}

export async function fileSectors(path: string): Promise<number> {
  const { size } = await stat(path);
  if (size % 512 !== 0) throw new Error(`${path}: ${size} bytes is not a whole number of 512-byte sectors`);
  return size / 512;
}

export interface DiskFile {
  readonly id: number;
  readonly path: string;
  readonly sectors: number;
  /** Whole-content hash, when known (restore); the identity a Xen image is checked against. */
  readonly hash?: bigint;
}

/**
 * A block store over disk files; each disk's identity is its content hash (or "unhashed"). With `map`
 * (default) it also hands out sectors where they lie in the page cache (MappedDiskFiles): the disks
 * must then stay as they are until it closes, as frozen disks do.
 */
export function diskFileStore(
  disks: readonly DiskFile[],
  opts: { readonly map?: boolean } = {},
): BlockStore & { close(): void } {
  const reads = new FileBlockStore(
    disks.map((d) => ({
      id: d.id,
      sectors: d.sectors,
      uuid: d.hash === undefined ? 'unhashed' : contentIdentity(d.hash),
      file: d.path,
    })),
  );
  if (opts.map === false) return reads;
  return new MappedDiskFiles(reads, new Map(disks.map((d) => [d.id, d.path])));
}
