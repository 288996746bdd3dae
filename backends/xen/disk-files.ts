/**
 * Disk image files as the Xen save and restore see them: frozen copies (reflink where the file system
 * can, else a plain copy), whole-content hashes, and a block store over them.
 */
import { constants } from 'node:fs';
import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import { updateInBackground, type Hasher64 } from '../../core/hash.ts';
import type { BlockStore } from '../../core/ports.ts';
import { FileBlockStore } from '../file/file-block-store.ts';
import {
  chunkCount,
  contentIdentity,
  digestChunks,
  type ChunkedContent,
  type ContentHash,
} from './content/chunk-hashes.ts';

export type { ChunkedContent };

const HASH_PIECE = 8 << 20;
const HASH_LANES = 2;

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

/**
 * The chunked content hash of a file of `sectors` sectors: read as hashFile reads, each chunk hashed
 * off the main thread where the hasher can.
 */
export async function hashFileChunks(
  path: string,
  hasher: Hasher64,
  chunkSectors: number,
): Promise<ChunkedContent> {
  const chunkBytes = chunkSectors * 512;
  const piece = Math.max(1, Math.floor(HASH_PIECE / chunkBytes)) * chunkBytes;
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const chunks = new BigUint64Array(chunkCount(Math.ceil(size / 512), chunkSectors));
    const bufs = [Buffer.allocUnsafe(piece), Buffer.allocUnsafe(piece)];
    let hashing = Promise.resolve();
    // A piece's chunks are hashed in two lanes at once: one after the other, each waiting for the main
    // thread to hand over the next, they took half again as long natively for a 256 MiB disk; more
    // lanes would leave the thread pool no room for the reads of the fill running beside.
    const hashPiece = async (bytes: Uint8Array, firstChunk: number): Promise<void> => {
      const count = Math.ceil(bytes.length / chunkBytes);
      const lane = async (first: number): Promise<void> => {
        for (let k = first; k < count; k += HASH_LANES) {
          const h = hasher.streaming();
          await updateInBackground(
            h,
            bytes.subarray(k * chunkBytes, Math.min((k + 1) * chunkBytes, bytes.length)),
          );
          chunks[firstChunk + k] = h.digest();
        }
      };
      await Promise.all(Array.from({ length: HASH_LANES }, (_, i) => lane(i)));
    };
    for (let pos = 0, k = 0; ; k ^= 1) {
      const { bytesRead } = await file.read(bufs[k]!, 0, piece, pos);
      await hashing;
      if (bytesRead === 0) break;
      hashing = hashPiece(bufs[k]!.subarray(0, bytesRead), pos / chunkBytes);
      pos += bytesRead;
    }
    return { hash: digestChunks(hasher, chunks), chunkSectors, chunks };
  } finally {
    await file.close();
  }
}

/** The content hash of a file, of the kind given (`chunkSectors` 0: the whole-file XXH64). */
export async function hashFileContent(
  path: string,
  hasher: Hasher64,
  chunkSectors: number,
): Promise<ContentHash> {
  if (chunkSectors === 0) return { hash: await hashFile(path, hasher), chunkSectors: 0 };
  const { hash } = await hashFileChunks(path, hasher, chunkSectors);
  return { hash, chunkSectors };
}

/**
 * Copies `src` to `dst`, sharing extents (reflink) where the file system supports it, durably: into a
 * temporary file beside `dst`, flushed, then renamed, so that `dst` is either absent or whole (an image
 * that names it is committed, with its directory flushed, only after this returns).
 */
export async function freezeCopy(src: string, dst: string): Promise<void> {
  const tmp = `${dst}.tmp-${process.pid}`;
  try {
    await copyFile(src, tmp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
    const copy = await open(tmp, 'r+');
    try {
      await copy.datasync();
    } finally {
      await copy.close();
    }
    await rename(tmp, dst);
  } catch (e) {
    await rm(tmp, { force: true });
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
  /** Content hash, when known (restore); the identity a Xen image is checked against. */
  readonly hash?: ContentHash;
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
