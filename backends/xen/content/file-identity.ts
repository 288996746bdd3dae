/**
 * A disk file's identity: device, inode, size, modification and change times. The kernel sets the
 * change time (ctime) on every write, truncation, rename or attribute change, and no system call can set
 * it back, so a file whose identity is the one a save recorded has not been written since: a restore
 * then need not read and hash the whole disk to know its content is the saved one.
 *
 * One limit: a timestamp is a clock tick, not an instant (Linux stamps with the coarse clock, a few
 * milliseconds; some file systems keep whole seconds). A write in the same tick as the change the save
 * saw leaves the identity as it was. So a save records an identity only once it is *settled*: seen
 * unchanged at least a margin past its ctime, after which any write gets a later stamp.
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** An identity a save found settled, and when (wall clock, ns since the epoch; shown by inspect). */
export interface SettledIdentity extends FileIdentity {
  readonly settledNs: bigint;
}

export async function fileIdentity(path: string): Promise<FileIdentity> {
  const s = await stat(path, { bigint: true });
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

export const sameIdentity = (a: FileIdentity, b: FileIdentity): boolean =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs;

/**
 * How long past a ctime a later write is sure to be stamped later: a tick is at most 10 ms on Linux
 * (HZ 100), a stamp without nanoseconds suggests a file system that keeps whole seconds (or two).
 */
export const settleMarginMs = (ctimeNs: bigint): number => (ctimeNs % 1_000_000_000n === 0n ? 2500 : 100);

export interface Clock {
  /** Wall-clock time in ns since the epoch (the clock file times are stamped with). */
  nowNs(): bigint;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  nowNs: () => BigInt(Date.now()) * 1_000_000n,
  sleep: (ms) => sleep(ms).then(() => undefined),
};

/**
 * The identity of `path`, settled: waits, if need be, until the margin past its ctime has passed, and
 * returns it only if it was the same on both sides of the wait. Undefined when the file changed
 * meanwhile or its ctime lies further ahead than a margin (a clock set back): a restore then hashes.
 */
export async function settledIdentity(
  path: string,
  clock: Clock = systemClock,
): Promise<SettledIdentity | undefined> {
  const first = await fileIdentity(path);
  const margin = BigInt(settleMarginMs(first.ctimeNs)) * 1_000_000n;
  const wait = first.ctimeNs + margin - clock.nowNs();
  if (wait > margin) return undefined;
  if (wait > 0n) await clock.sleep(Number((wait + 999_999n) / 1_000_000n));
  const settledNs = clock.nowNs();
  const again = await fileIdentity(path);
  return sameIdentity(first, again) ? { ...again, settledNs } : undefined;
}
