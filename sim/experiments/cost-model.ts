/**
 * The cost model: checkpoint and restore time from what an image holds, so results do not depend on
 * the machine that produced them. Every rate is a parameter; the two profiles are documented in
 * docs/experiments.md with where each number comes from.
 */
import { PAGE_SIZE } from '../../core/ports.ts';

export interface CostParams {
  /** Sequential write bandwidth of the image's storage, bytes/s (fsync included). */
  readonly writeBandwidth: number;
  /** Sequential read bandwidth of image and disk storage, bytes/s. */
  readonly readBandwidth: number;
  /** Cost of one disk read at restore (seek + rotation, or a flash command), seconds. */
  readonly accessSeconds: number;
  /** Copying guest pages into the image's buffers, bytes/s. */
  readonly copyRate: number;
  /** Hashing pages (XXH64: the hash a MAP entry carries, and restore's proof), bytes/s. */
  readonly hashRate: number;
  /** Checking pages for all-zero content, bytes/s. */
  readonly zeroScanRate: number;
  /** Per checkpoint: pause, device state, disk snapshot, resume, seconds. */
  readonly fixedSeconds: number;
}

export type CostProfileName = 'ssd' | 'disk2011';

const MB = 1e6;
const GB = 1e9;

export const COST_PROFILES: Readonly<Record<CostProfileName, CostParams>> = {
  // Measured on this machine kind: write+fsync 344 MB/s, XXH64 5.8 GB/s per 4 KiB page, Buffer.copy
  // 1.6 GB/s. Reads are taken as fast as writes (conservative for flash); 0.1 ms per read command.
  ssd: {
    writeBandwidth: 344 * MB,
    readBandwidth: 344 * MB,
    accessSeconds: 0.0001,
    copyRate: 1.6 * GB,
    hashRate: 5.8 * GB,
    zeroScanRate: 1.6 * GB,
    fixedSeconds: 0.02,
  },
  // A 2011 server: one 7200 rpm SATA disk (~100 MB/s sequential, ~8 ms per random access), and a CPU
  // about half as fast at copying and hashing as this machine's.
  disk2011: {
    writeBandwidth: 100 * MB,
    readBandwidth: 100 * MB,
    accessSeconds: 0.008,
    copyRate: 0.8 * GB,
    hashRate: 2.9 * GB,
    zeroScanRate: 0.8 * GB,
    fixedSeconds: 0.05,
  },
};

/** What a scheme does at one checkpoint, in pages and bytes. */
export interface CheckpointWork {
  readonly imageBytes: number;
  /** Pages copied into the image as data. */
  readonly dataPages: number;
  /** Pages stored as references: hashed from memory, not copied. */
  readonly mappedPages: number;
  /** Pages checked for zero content (every page not mapped, when zero pages are elided). */
  readonly scannedPages: number;
}

export interface TimeBreakdown {
  readonly fixed: number;
  readonly copy: number;
  readonly hash: number;
  readonly zeroScan: number;
  readonly write: number;
  readonly total: number;
}

/** Checkpoint time: the steps run one after another, as a save that copies, hashes, then writes. */
export function checkpointTime(w: CheckpointWork, c: CostParams): TimeBreakdown {
  const copy = (w.dataPages * PAGE_SIZE) / c.copyRate;
  const hash = (w.mappedPages * PAGE_SIZE) / c.hashRate;
  const zeroScan = (w.scannedPages * PAGE_SIZE) / c.zeroScanRate;
  const write = w.imageBytes / c.writeBandwidth;
  const fixed = c.fixedSeconds;
  return { fixed, copy, hash, zeroScan, write, total: fixed + copy + hash + zeroScan + write };
}

/** What a restore does: read the image, read mapped pages from the disk in coalesced runs. */
export interface RestoreWork {
  readonly imageBytes: number;
  readonly dataPages: number;
  readonly mappedPages: number;
  readonly diskReads: number;
  readonly diskBytes: number;
}

export interface RestoreBreakdown {
  readonly imageRead: number;
  readonly diskRead: number;
  readonly hash: number;
  readonly copy: number;
  readonly total: number;
}

export function restoreTime(w: RestoreWork, c: CostParams): RestoreBreakdown {
  const imageRead = w.imageBytes / c.readBandwidth;
  const diskRead = w.diskReads * c.accessSeconds + w.diskBytes / c.readBandwidth;
  const hash = (w.mappedPages * PAGE_SIZE) / c.hashRate;
  const copy = (w.dataPages * PAGE_SIZE) / c.copyRate;
  return { imageRead, diskRead, hash, copy, total: imageRead + diskRead + hash + copy };
}

/** A profile with some parameters replaced; rejects nonsense so a typo cannot produce a table. */
export function costParams(profile: CostProfileName, over: Partial<CostParams> = {}): CostParams {
  const p = { ...COST_PROFILES[profile], ...over };
  for (const [k, v] of Object.entries(p)) {
    const zeroOk = k === 'fixedSeconds' || k === 'accessSeconds';
    if (!Number.isFinite(v) || v < 0 || (!zeroOk && v === 0))
      throw new RangeError(`cost parameter ${k} must be a positive number, got ${v}`);
  }
  return p;
}
