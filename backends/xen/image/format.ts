/**
 * Xen image v1 (docs/image-format.md, "Xen image"): the `xl save` stream minus the payloads of pages a
 * restore can rebuild (pages whose bytes are on the frozen disk, and zero pages). Framing is the core
 * image's: type u32 | length u32 | body | zero padding to 8 | XXH64 of all of it, little-endian.
 */
import { align8 } from '../../../core/image/format.ts';
import type { ContentHash } from '../content/chunk-hashes.ts';
import type { SettledIdentity } from '../content/file-identity.ts';

/** "\x89 L C X E N \r \n": same PNG-style guard as the core image, a different name. */
export const XEN_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x4c, 0x43, 0x58, 0x45, 0x4e, 0x0d, 0x0a);
export const XEN_FORMAT_VERSION = { major: 1, minor: 2 } as const;
export const XEN_HEADER_SIZE = 24;

export const XenRec = {
  END: 0x0000_0000,
  DISK: 0x0000_0002,
  DISK_HASH: 0x0000_0003,
  DISK_CHUNK_HASH: 0x0000_0008,
  MAP: 0x0000_0004,
  ZERO: 0x0000_0005,
  STREAM: 0x0000_0007,
  DISK_CHUNKS: 0x8000_0009,
  DISK_FILE: 0x8000_000a,
  OPTIONAL: 0x8000_0000,
} as const;

export const REC_HEADER_SIZE = 8;
export const REC_CHECKSUM_SIZE = 8;
export const REC_LENGTH_MAX = 64 * 1024 * 1024;
/** The writer cuts kept stream bytes into records of this size: big writes, bounded buffers. */
export const STREAM_CHUNK = 1 << 20;
export const MAP_MAX_ENTRIES = 65536;
export const MAP_ENTRY_SIZE = 24;
export const END_SIZE = 48;
export const DISK_FIXED_SIZE = 24;
export const DISK_HASH_SIZE = 16;
export const DISK_TEXT_MAX = 4096;
export const DISK_CHUNKS_FIXED_SIZE = 16;
/** Chunk hashes per DISK_CHUNKS record at most: 1 MiB of them, a 128 GiB disk's (1 MiB chunks). */
export const DISK_CHUNKS_MAX = 1 << 17;
export const DISK_FILE_SIZE = 56;

export const GuestCode = { pv: 1, hvm: 2 } as const;

const NAMES = new Map<number, string>(
  Object.entries(XenRec)
    .filter(([n]) => n !== 'OPTIONAL')
    .map(([n, t]) => [t, n]),
);

export function xenRecordName(type: number): string {
  const hex = `0x${(type >>> 0).toString(16).padStart(8, '0')}`;
  return (
    NAMES.get(type) ?? ((type & XenRec.OPTIONAL) !== 0 ? `UNKNOWN(${hex}, optional)` : `UNKNOWN(${hex})`)
  );
}

export const framedSize = (length: number): number => REC_HEADER_SIZE + align8(length) + REC_CHECKSUM_SIZE;

/** The END record: what the rebuilt stream must be, and the counts a reader recounts. */
export interface XenEnd {
  readonly streamBytes: number;
  readonly streamHash: bigint;
  /** Pages with data in the stream (PAGE_DATA payload slots). */
  readonly pageSlots: number;
  readonly pagesMapped: number;
  readonly pagesZero: number;
  readonly guest: 'pv' | 'hvm';
}

export interface XenDisk {
  /** The disk id MAP entries use: the blkif virtual device number. */
  readonly id: number;
  readonly sectors: number;
  /** The guest's name for the disk (e.g. "xvda"), to attach it again at restore. */
  readonly vdev: string;
  /** Where the frozen disk file was when the image was written: a restore's default. */
  readonly path: string;
}

/**
 * A disk's content hash (content/chunk-hashes.ts): a DISK_CHUNK_HASH record, or for `chunkSectors` 0
 * a DISK_HASH record (the whole-file XXH64 that minor 0 images carry).
 */
export interface XenDiskHash extends RecordedContent {
  readonly id: number;
}

/**
 * What an image records of a disk's content: its hash and, from minor 2, the chunks' own hashes
 * (DISK_CHUNKS: a restore hands them to the new tracking) and the frozen file's settled identity
 * (DISK_FILE: a restore that finds the file unchanged need not hash it).
 */
export interface RecordedContent extends ContentHash {
  readonly chunks?: BigUint64Array;
  readonly file?: SettledIdentity;
}
