/**
 * Ports: what the core needs from a backend. A backend (in-memory, simulator, Xen) implements these;
 * the core never imports a backend. Each port has one job so a test can fake exactly one of them.
 */
import type { Observable } from 'rxjs';
import type { EventBatch } from './events/batch.ts';

/** Guest geometry the core works with: 4 KiB pages, 512 B sectors. */
export const PAGE_SIZE = 4096;
export const SECTOR_SIZE = 512;
export const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;

/** One virtual disk as the guest sees it. Disks have independent sector spaces. */
export interface DiskGeometry {
  /** The disk id used by I/O events (blkif's virtual device number, or an index). */
  readonly id: number;
  /** Size in 512 B sectors. */
  readonly sectors: number;
}

/** A disk plus an identity a restore can check: the image references its sectors, never copies them. */
export interface DiskIdentity extends DiskGeometry {
  /** Opaque, backend-chosen identity of the exact disk state (e.g. snapshot id, or path + content hash). */
  readonly uuid: string;
}

export interface GuestGeometry {
  readonly pageCount: number;
  readonly disks: readonly DiskGeometry[];
}

/** Guest memory, page-granular. Synchronous: a backend maps guest memory rather than fetching it. */
export interface GuestMemory {
  readonly pageCount: number;
  /** Copies page `pfn` (PAGE_SIZE bytes) into `dst`. */
  readPage(pfn: number, dst: Uint8Array): void;
  /** Replaces page `pfn` with `src` (PAGE_SIZE bytes). */
  writePage(pfn: number, src: Uint8Array): void;
  /**
   * Optional: page `pfn` in place (PAGE_SIZE bytes), to read only, valid while the guest is paused.
   * Memory that is mapped can offer it; the writer then checks mapped pages without copying them.
   */
  pageView?(pfn: number): Uint8Array;
}

/** Read access to disk content, as of a fixed moment (a snapshot) or live. */
export interface BlockStore {
  readonly disks: readonly DiskIdentity[];
  /** Reads `count` sectors starting at `sector` of disk `disk` into `dst` (count * SECTOR_SIZE bytes). */
  readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void>;
}

/** Freezes the disks' current content so an image can reference it after the guest moves on. */
export interface DiskSnapshotter {
  snapshot(name: string): Promise<BlockStore>;
}

/** The totally ordered stream of I/O and memory events, in batches. */
export interface EventSource {
  readonly geometry: GuestGeometry;
  /**
   * Emits event batches. A batch that ends in a checkpoint barrier is emitted while the guest is paused;
   * the source emits nothing further until `DomainControl.resume()` is called.
   */
  events(): Observable<EventBatch>;
}

/** Pausing, resuming and the opaque device/vCPU state of a domain. */
export interface DomainControl {
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Opaque device and vCPU state, stored verbatim in the image. */
  saveState(): Promise<Uint8Array>;
  loadState(state: Uint8Array): Promise<void>;
}

/**
 * Synchronous content hashes the tracker needs for hash revalidation in epoch delivery mode:
 * `hashSectors` must hash the disk's current content (what a mapping claims), `hashPage` the page's.
 */
export interface ContentProbe {
  hashPage(pfn: number): bigint;
  hashSectors(disk: number, sector: number): bigint;
}
