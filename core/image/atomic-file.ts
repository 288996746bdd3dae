/**
 * Atomic file replacement: readers of `path` see either the old file or the complete new one, never a
 * partial image, even across a crash. The temporary file lives in the same directory because rename is
 * only atomic within one file system.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '../errors.ts';

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The temporary name for `path`; exported so tests can recognise leftovers. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Runs `write` against a fresh temporary file, then fsyncs it, renames it over `path` and fsyncs the
 * directory so the rename itself is durable. On any failure the temporary file is removed and a
 * CheckpointError("Cannot write image <path>: <cause>") is thrown; `path` is left as it was.
 */
export async function writeFileAtomically<T>(
  path: string,
  write: (file: FileHandle) => Promise<T>,
): Promise<T> {
  const tmp = tempPathFor(path);
  let file: FileHandle | undefined;
  let result: T;
  try {
    // Read and write: the writer moves records it wrote when a mapped page is demoted late.
    file = await open(tmp, 'wx+');
    result = await write(file);
    await file.sync();
    await file.close();
    file = undefined;
    await rename(tmp, path);
  } catch (cause) {
    await file?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CheckpointError(`Cannot write image ${path}: ${describe(cause)}`, { cause });
  }
  try {
    await syncDirectory(dirname(path));
  } catch (cause) {
    // The image is complete and in place; only its survival of a power loss is in doubt.
    throw new CheckpointError(`Cannot write image ${path}: directory fsync failed: ${describe(cause)}`, {
      cause,
    });
  }
  return result;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
