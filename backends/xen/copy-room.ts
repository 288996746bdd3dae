/**
 * Room for `xen save --keep-running`'s disk copies, checked before xl suspends the guest: a copy that
 * runs out of space fails the save only after the guest has waited through the stream (lab run 65).
 * Where the file system shares extents (reflinks), a copy takes no room.
 */
import { constants } from 'node:fs';
import { copyFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../../core/errors.ts';

export interface RoomProbe {
  /** Bytes an ordinary writer may still use in `dir`. */
  free(dir: string): Promise<number>;
  /** Whether `src` can be copied into `dir` by sharing its extents (tried, and undone). */
  shares(src: string, dir: string): Promise<boolean>;
}

export const fileSystemRoom: RoomProbe = {
  async free(dir) {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  },
  async shares(src, dir) {
    const probe = join(dir, `.leanckpt-reflink-probe-${process.pid}`);
    try {
      await copyFile(src, probe, constants.COPYFILE_FICLONE_FORCE);
      return true;
    } catch {
      return false;
    } finally {
      await rm(probe, { force: true });
    }
  },
};

interface CopiedDisk {
  readonly vdev: string;
  readonly path: string;
  readonly sectors: number;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Throws an EnvironmentError (ENOSPC) unless `dir` has room for plain copies of the disks it cannot share. */
export async function checkRoomForCopies(
  disks: readonly CopiedDisk[],
  dir: string,
  room: RoomProbe = fileSystemRoom,
): Promise<void> {
  const size = (ds: readonly CopiedDisk[]): number => ds.reduce((n, d) => n + d.sectors * 512, 0);
  const free = await room.free(dir);
  if (size(disks) <= free) return;
  const plain: CopiedDisk[] = [];
  for (const d of disks) if (!(await room.shares(d.path, dir))) plain.push(d);
  if (size(plain) <= free) return;
  throw new EnvironmentError(
    `not enough room in ${dir} to copy ${plain.map((d) => d.vdev).join(', ')} for --keep-running: ` +
      `${mib(size(plain))} needed, ${mib(free)} free, and the file system cannot share their extents ` +
      '(free some space, or save the image where there is room)',
    'ENOSPC',
  );
}
