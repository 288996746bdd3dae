/**
 * Disk image files as the Xen save and restore see them: frozen copies (reflink where the file system
 * can, else a plain copy), whole-content hashes, and a block store over them.
 */
import { constants } from 'node:fs';
import { copyFile, open, rm, stat } from 'node:fs/promises';
import { updateInBackground, type Hasher64 } from '../../core/hash.ts';
import type { BlockStore } from '../../core/ports.ts';
import { FileBlockStore } from '../file/file-block-store.ts';
import { contentIdentity } from './image/rebuild.ts';

const HASH_PIECE = 8 << 20;

/**
 * XXH64 of the whole file. Two buffers take turns: one is read into while the other is hashed, off the
 * main thread where the hasher can (updateInBackground), so the save's filter or the restore's rebuild
 * runs beside it on another CPU.
 */
export async function hashFile(path: string, hasher: Hasher64): Promise<bigint> {
  const h = hasher.streaming();
  const file = await open(path, 'r');
  try {
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
  } finally {
    await file.close();
  }
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

/** A block store over disk files; each disk's identity is its content hash (or "unhashed"). */
export function diskFileStore(disks: readonly DiskFile[]): BlockStore & { close(): void } {
  return new FileBlockStore(
    disks.map((d) => ({
      id: d.id,
      sectors: d.sectors,
      uuid: d.hash === undefined ? 'unhashed' : contentIdentity(d.hash),
      file: d.path,
    })),
  );
}
