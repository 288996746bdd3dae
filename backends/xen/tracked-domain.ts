import type { ChunkedContent, ChunkList } from './content/chunk-hashes.ts';

/**
 * The port between the save/restore orchestration and the live tracking of a domain (the disk backend,
 * log-dirty and the page-to-block map live behind it). Save and restore only need these few calls, so
 * they are tested with an in-memory double and run unchanged against the real backend.
 */

/** Where a page's bytes are on disk, according to the tracker. */
export interface PageLocation {
  readonly disk: number;
  /** First of the 8 sectors (512 B) holding the page; need not be 8-aligned. */
  readonly sector: number;
}

/** The page-to-block map at the instant the backend was quiesced. */
export interface PageMapView {
  get(pfn: number): PageLocation | undefined;
  /** Pages mapped. */
  readonly size: number;
  /** Where the tracking's time for the quiesce went, when it says. */
  readonly timing?: QuiesceTiming;
}

/** A quiesce inside the tracking, in ms: requests in flight answered, map cut. */
export interface QuiesceTiming {
  readonly drainMs: number;
  readonly cutMs: number;
}

/**
 * The disks' content hashes as of a quiesce, by disk id, with their chunks' hashes (which the image
 * records for the next restore's tracking), and what they cost the tracking then.
 */
export interface QuiescedContent {
  readonly hashes: ReadonlyMap<number, ChunkedContent>;
  readonly ms: number;
  /** Chunks written since the tracking's last pass, hashed for this answer. */
  readonly chunksHashed: number;
}

/** A disk served to the guest by the backend. */
export interface TrackedDisk {
  /** The disk id in the map (the blkif virtual device number, e.g. 51712 for xvda). */
  readonly id: number;
  /** The guest's name for it, e.g. "xvda". */
  readonly vdev: string;
  /** Raw disk image file. */
  readonly path: string;
  readonly sectors: number;
}

export interface TrackedDomain {
  readonly domid: number;
  disks(): readonly TrackedDisk[];
  /**
   * Stops taking disk requests and waits until every request in flight has completed and been
   * answered, so neither the disk nor guest memory changes through the backend until resume() or
   * release(); returns the map as of that instant.
   */
  quiesce(): Promise<PageMapView>;
  /**
   * While quiesced: the disks' content hashes, where the tracking keeps them current (see
   * content/chunk-hashes.ts; only the chunks written since its last pass are hashed now), so the save
   * records them instead of reading every disk. Asked right after quiesce(), answered while the save
   * filters the stream.
   */
  quiescedContent?(): Promise<QuiescedContent>;
  /** Serves disk requests again and re-enables log-dirty (which `xl save` turns off). */
  resume(): Promise<void>;
  /** The domain is gone (saved and destroyed): stop serving and tracking it. */
  release(): Promise<void>;
}

/** A disk a restored domain gets: the frozen file the image references, or a copy of it. */
export interface RestoredDisk {
  readonly id: number;
  readonly vdev: string;
  readonly path: string;
}

/**
 * The pages a restore read back from the disks, each verified: page `pfn[i]` holds the 8 sectors from
 * `sector[i]` of disk `disk[i]`, whose content hashes to `hash[i]` (as the image recorded it).
 */
export interface RestoredMap {
  readonly length: number;
  readonly pfn: Uint32Array;
  readonly disk: Uint32Array;
  readonly sector: Float64Array;
  readonly hash?: BigUint64Array;
}

/** The pages a restore reads back from the disks, as the new tracking gets them. */
export interface RestoredPages {
  /** Undefined if the restore could not list them: the tracking then starts with an empty map. */
  readonly map: RestoredMap | undefined;
  /** Resolves once every one of them is in place in guest memory and checked; rejects otherwise. */
  readonly verified: Promise<void>;
  /**
   * The disks' content as the restore hashed it, by disk id (settled once `verified` resolves): the
   * new tracking takes the chunks' hashes instead of reading the disks again.
   */
  readonly content?: Promise<ReadonlyMap<number, ChunkList>>;
}

/** What the new tracking did with a RestoredMap (see PageBlockTracker.adoptVerifiedMappings). */
export interface AdoptionReport {
  readonly offered: number;
  readonly adopted: number;
  readonly rejected: number;
  /** Why the hand-over failed, if it did: the domain runs all the same, its map starts empty. */
  readonly error?: string;
}

/** Attaches the backend to a domain `xl restore -p` has just created (still paused) and starts tracking. */
export interface DomainAttacher {
  /** The restore is starting: get ready ahead (start a tracking process), if that saves time. */
  prepare?(): void;
  /**
   * xl has the whole stream: what prepare() started is needed soon, and no longer competes with the
   * stream for the CPUs (it loads at a low priority until then, or until attach()).
   */
  hurry?(): void;
  /** The restore failed before attach(): drop what prepare() started. */
  abandon?(): void;
  /**
   * When (performance.now()) the tracking process started by prepare() had loaded and was serving the
   * domain, as far as known: where a restore's wait for it comes from.
   */
  timeline?(): { readonly loaded?: number; readonly ready?: number };
  /**
   * `restored`, if given, seeds the new tracking's map with the pages the restore read from the disks
   * (so the next save leaves them out again). Its map is known before the pages are in place: it may
   * be sent ahead, but is adopted only once `restored.verified` resolves, before the domain is
   * unpaused; if that rejects, so does attach(), and nothing is adopted.
   */
  attach(
    domid: number,
    disks: readonly RestoredDisk[],
    restored?: RestoredPages,
  ): Promise<AdoptionReport | void>;
}
