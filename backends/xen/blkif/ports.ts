/**
 * What the blkif backend needs from the outside world, one job per port, so the request logic runs
 * unchanged against the real syscalls (FFI) and against the in-memory ring and guest of the tests.
 */
import type { Segment } from '../../../core/events/batch.ts';

/** The disk the backend serves. Offsets and counts in 512 B sectors. */
export interface DiskStore {
  readonly sectors: number;
  readonly readOnly: boolean;
  read(sector: number, dst: Uint8Array): Promise<void>;
  write(sector: number, src: Uint8Array): Promise<void>;
  /** Afterwards the sectors read as zeros (so a discarded range has one defined content). */
  discard(sector: number, count: number): Promise<void>;
  flush(): Promise<void>;
  /** Synchronous read, for content hashes the tracker asks for in the middle of a batch. */
  readSync(sector: number, dst: Uint8Array): void;
  close(): Promise<void>;
}

/** One piece of a granted guest page: bytes [offset, offset + len) of the page behind `gref`. */
export interface GrantPiece {
  readonly gref: number;
  readonly offset: number;
  readonly len: number;
}

/**
 * Moves data between guest pages and backend buffers by grant copy (no mapping lifetime; Xen marks the
 * destination pages dirty for log-dirty at copy time). Buffers come from `alloc`: the real mover hands
 * out hypercall-reachable memory. A copy returns false if any piece failed.
 */
export interface DataMover {
  alloc(bytes: number): Uint8Array;
  free(buf: Uint8Array): void;
  toGuest(pieces: readonly GrantPiece[], src: Uint8Array): boolean;
  fromGuest(pieces: readonly GrantPiece[], dst: Uint8Array): boolean;
}

/** Where the backend's I/O events go: the core's event model (a BatchBuilder has these methods). */
export interface IoEvents {
  submit(id: number, dir: 'read' | 'write', disk: number, sector: number, segs: readonly Segment[]): unknown;
  submitDiscard(id: number, disk: number, sector: number, count: number): unknown;
  complete(id: number, ok: boolean): unknown;
  /** End of a burst: hand what was added to the consumer. */
  flush(): void;
}
