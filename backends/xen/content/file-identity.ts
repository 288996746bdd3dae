/**
 * A disk file's identity: device, inode, size, modification and change times. The kernel sets the
 * change time (ctime) on every write, truncation, rename or attribute change, and no system call can set
 * it back, so a file whose identity is the one a save recorded has not been written since: a restore
 * then need not read and hash the whole disk to know its content is the saved one.
 *
 * One limit: a timestamp is a clock tick, not an instant (Linux stamps with its coarse clock, some file
 * systems keep whole seconds, and a busy virtual machine's ticks can lag), so a write in the same tick as
 * the change the save saw would leave the identity as it was. A save therefore records an identity only
 * once *settled*: once the file system stamps a file of its own beside the disk later than the disk's
 * ctime, every later write to the disk is stamped later too. Asking the file system, not the wall
 * clock, makes this hold whatever the tick, the granularity or the lag.
 */
import type { BigIntStats } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** An identity a save found settled, and the file system's stamp that proved it (shown by inspect). */
export interface SettledIdentity extends FileIdentity {
  readonly settledNs: bigint;
}

export async function fileIdentity(path: string): Promise<FileIdentity> {
  return identityOf(await stat(path, { bigint: true }));
}

const identityOf = (s: BigIntStats): FileIdentity => ({
  dev: s.dev,
  ino: s.ino,
  size: s.size,
  mtimeNs: s.mtimeNs,
  ctimeNs: s.ctimeNs,
});

export const sameIdentity = (a: FileIdentity, b: FileIdentity): boolean =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs;

/** How a save learns what its file system stamps now. */
export interface Stamps {
  /** The ctime the file system gives a file changed now beside `path`; undefined if it cannot tell. */
  now(path: string): Promise<bigint | undefined>;
  sleep(ms: number): Promise<void>;
}

/** Stamps read off a probe file created beside the disk (same file system), then removed. */
export const fileSystemStamps: Stamps = {
  async now(path) {
    const probe = join(dirname(path), `.${basename(path)}.stamp-${process.pid}`);
    try {
      await writeFile(probe, '');
      return (await stat(probe, { bigint: true })).ctimeNs;
    } catch {
      return undefined; // no room, no permission, a read-only file system: the restore reads the disk
    } finally {
      await rm(probe, { force: true }).catch(() => undefined);
    }
  },
  sleep: (ms) => sleep(ms).then(() => undefined),
};

/** How long a save waits at most for a later stamp: more than FAT's two-second granularity. */
export const SETTLE_MAX_MS = 3000;

/**
 * The identity of `path`, settled (see above): asks the file system for a stamp until it gives one
 * later than the file's ctime, then checks the file had the same identity on both sides of that.
 * Undefined when the file changed meanwhile, or no later stamp came within SETTLE_MAX_MS (a clock set
 * back, a file system that cannot be probed), or it is no regular file (a block device's node is not
 * stamped by writes to the device): a restore then reads and hashes the disk.
 */
export async function settledIdentity(
  path: string,
  stamps: Stamps = fileSystemStamps,
): Promise<SettledIdentity | undefined> {
  const s = await stat(path, { bigint: true });
  if (!s.isFile()) return undefined;
  const first = identityOf(s);
  // Fine stamps come a tick apart; whole-second ones a second apart.
  const step = first.ctimeNs % 1_000_000_000n === 0n ? 250 : 5;
  let stamp: bigint | undefined;
  for (let waited = 0; ; waited += step) {
    stamp = await stamps.now(path);
    if (stamp === undefined) return undefined;
    if (stamp > first.ctimeNs) break;
    if (waited >= SETTLE_MAX_MS) return undefined;
    await stamps.sleep(step);
  }
  const again = await fileIdentity(path);
  return sameIdentity(first, again) ? { ...again, settledNs: stamp } : undefined;
}
