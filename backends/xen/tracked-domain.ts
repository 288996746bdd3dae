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

/** Attaches the backend to a domain `xl restore -p` has just created (still paused) and starts tracking. */
export interface DomainAttacher {
  attach(domid: number, disks: readonly RestoredDisk[]): Promise<void>;
}
