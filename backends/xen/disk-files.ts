/**
 * Disk image files as the Xen save and restore see them: frozen copies (reflink where the file system
 * can, else a plain copy), whole-content hashes, and a block store over them.
 */
import { constants, createReadStream } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import type { Hasher64 } from '../../core/hash.ts';
import type { BlockStore } from '../../core/ports.ts';
import { FileBlockStore } from '../file/file-block-store.ts';
import { contentIdentity } from './image/rebuild.ts';

/** XXH64 of the whole file, read in 8 MiB pieces. */
export async function hashFile(path: string, hasher: Hasher64): Promise<bigint> {
  const h = hasher.streaming();
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
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
