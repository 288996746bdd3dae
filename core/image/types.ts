/**
 * The image API's types. Inputs are ports and columnar snapshots, never per-page objects, so a
 * multi-GiB guest costs the writer O(mapped entries) of typed arrays plus fixed buffers.
 */
import type { Hasher64 } from '../hash.ts';
import type { MapSnapshot } from '../pbmap/map-snapshot.ts';
import type { BlockStore, DiskIdentity, GuestMemory } from '../ports.ts';
import type { FormatVersion } from './file-header.ts';

export interface ImagePolicy {
  /** Store pages in the map snapshot as references (MAP entries) instead of data. */
  readonly useMap: boolean;
  /** Store all-zero pages as ZERO extents instead of data. */
  readonly elideZero: boolean;
  /** Read each mapped page's sectors at write time and demote it to data if they differ. */
  readonly verifyMapped: boolean;
}

export interface ImageInput {
  readonly memory: GuestMemory;
  /** The disks the mapping refers to, as the restore must find them. */
  readonly disks: readonly DiskIdentity[];
  /** Opaque device and vCPU state. */
  readonly state: Uint8Array;
  readonly mapping: MapSnapshot;
  /** The (snapshotted) disk content; needed when the policy verifies mapped pages. */
  readonly blocks?: BlockStore;
  readonly hasher: Hasher64;
}

export interface ImageStats {
  readonly path: string;
  readonly bytes: number;
  readonly pagesMapped: number;
  readonly pagesZero: number;
  readonly pagesData: number;
  /** ZERO extents written (runs of consecutive zero pages). */
  readonly zeroExtents: number;
  /** Mapped pages whose sectors did not hold their content: stored as zero or data instead. */
  readonly pagesDemoted: number;
  readonly seconds: number;
}

export interface RestoreTarget {
  readonly memory: GuestMemory;
  readonly blocks: BlockStore;
  readonly hasher: Hasher64;
}

export interface RestoreStats {
  readonly state: Uint8Array;
  readonly pagesMapped: number;
  readonly pagesZero: number;
  readonly pagesData: number;
  /** readSectors calls; adjacent mapped pages share one. */
  readonly diskReads: number;
  readonly bytesReadDisk: number;
  readonly bytesReadImage: number;
  readonly seconds: number;
}

export interface RecordTotal {
  readonly count: number;
  /** Bytes in the file, framing and padding included. */
  readonly bytes: number;
}

export interface ImageSummary {
  readonly path: string;
  readonly bytes: number;
  readonly version: FormatVersion;
  readonly pageSize: number;
  readonly sectorSize: number;
  readonly pageCount: number;
  readonly disks: readonly DiskIdentity[];
  readonly stateBytes: number;
  readonly pagesMapped: number;
  readonly pagesZero: number;
  readonly pagesData: number;
  /** Per record type name ("header" for the file header); the byte totals sum to `bytes`. */
  readonly records: Readonly<Record<string, RecordTotal>>;
}
