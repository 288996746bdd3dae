/**
 * The parameters of a simulated guest: plain data, one object per guest kind (sim/guests/*.ts), every
 * field documented there and in docs/guest-models.md. The OS model (kernel.ts) reads nothing else.
 */

export type OsFamily = 'linux' | 'windows';

/** The block I/O path between the guest's page cache and the disk, as the hypervisor sees it. */
export interface IoParams {
  /** 'blkfront': the Xen PV ring (requests carry the guest's own pages); 'ide': emulated IDE in the device model. */
  readonly driver: 'blkfront' | 'ide';
  /** Disk id in events (Xen's virtual device number: 51712 is xvda, 768 is hda). */
  readonly diskId: number;
  /** Most pages (segments) one request carries. */
  readonly maxSegments: number;
  /** Requests the device accepts before the guest must wait (ring slots, IDE commands). */
  readonly ringDepth: number;
  /** The device model moves a request's data in pieces of this many sectors, one event pair each (0: whole). */
  readonly chunkSectors: number;
  /** Probability that a piece boundary falls inside a page, leaving that page filled by two sub-page transfers. */
  readonly subPageSplitRate: number;
  /** Fraction of requests whose data is staged through a bounce/copy buffer (then CPU-copied). */
  readonly bounceRate: number;
  /** Pages at or above this guest-physical address always go through a bounce buffer (0: none). */
  readonly dmaLimitBytes: number;
  /** Size of the bounce buffer pool, in pages (kernel memory). */
  readonly bouncePoolPages: number;
  /** Per guest operation, probability that an in-flight request's (current piece) completes. */
  readonly completionRate: number;
  /** Probability that a request (piece) fails. */
  readonly failRate: number;
  /** Longest discard request, in sectors. */
  readonly maxDiscardSectors: number;
}

/** The file system on the guest's disk. */
export interface FsParams {
  readonly name: string;
  /** File system block size: 4096, or 1024 (page-cache pages then hold 4 blocks each). */
  readonly blockSize: 1024 | 4096;
  /** First sector of the partition: 2048 (1 MiB aligned) or 63 (old DOS layout: blocks off 4 KiB boundaries). */
  readonly partitionStart: number;
  /** Share of the file system's blocks holding metadata (bitmaps, inode tables / MFT, directories). */
  readonly metaFraction: number;
  /** Bytes per inode / MFT record (how many files share one metadata block). */
  readonly inodeBytes: number;
  /** 'blocks': whole metadata blocks are logged (jbd2); 'records': small log records are (NTFS $LogFile). */
  readonly journal: 'blocks' | 'records';
  readonly journalBytes: number;
  /** Bytes logged per changed metadata item in 'records' mode. */
  readonly logRecordBytes: number;
  /** Guest operations between journal commits. */
  readonly commitInterval: number;
  /** Sectors written when a dirty metadata page is written home (0: the whole block). */
  readonly metaWriteSectors: number;
  /** Discard (TRIM) freed blocks when files are deleted. */
  readonly discard: boolean;
  /** Files up to this size live inside their metadata record and have no data blocks (NTFS resident data). */
  readonly residentBytes: number;
  /** 'partition': swap has its own partition; 'file': a preallocated file inside the file system (pagefile.sys). */
  readonly swap: 'partition' | 'file';
}

/** Memory management. */
export interface MemParams {
  /** Memory taken before the OS runs: firmware, ACPI tables, emulated VGA memory, special pages. */
  readonly reservedBytes: number;
  /** Kernel image, static data and early allocations. */
  readonly kernelBytes: number;
  /** Per-page bookkeeping (struct page, PFN database), as a fraction of memory. */
  readonly memmapFraction: number;
  /** Most memory the kernel's own caches (slab, pools) grow to, as a fraction of memory. */
  readonly slabMaxFraction: number;
  /** Kernel cache growth per file touched (inode, dentry), in bytes. */
  readonly slabBytesPerFile: number;
  /** Reclaim starts below this fraction of free memory and stops at 1.5 times it. */
  readonly lowWatermarkFraction: number;
  /** Readahead: first window and largest window, in pages. */
  readonly raInitPages: number;
  readonly raMaxPages: number;
  /** Dirty page cache pages are written back once older than this (guest operations). */
  readonly dirtyExpire: number;
  /** Guest operations between writeback runs. */
  readonly writebackInterval: number;
  /** Above this fraction of memory dirty, writeback runs regardless of age. */
  readonly dirtyBackgroundFraction: number;
  /** Most pages one writeback run writes. */
  readonly writebackChunk: number;
  /** 0..200: how readily reclaim swaps anonymous memory rather than dropping page cache. */
  readonly swappiness: number;
  /** Swap space as a fraction of memory. */
  readonly swapFraction: number;
  /** Swap readahead: up to this many consecutive slots of the same process are read on a fault. */
  readonly pageCluster: number;
  /** Freed pages are zeroed in the background (Windows' zero page thread). */
  readonly zeroFreedPages: boolean;
  /** Pages the zeroing thread clears per guest operation. */
  readonly zeroPerTick: number;
  /** A balloon driver gives unused free memory back to the hypervisor (self-ballooning). */
  readonly balloon: boolean;
  /** Most memory the balloon holds, as a fraction of memory. */
  readonly balloonMaxFraction: number;
  /** Fraction of executable-image pages modified in place after they are read (relocation fix-ups). */
  readonly relocateRate: number;
  /** Kernel data pages written per guest operation (timers, statistics, run queues). */
  readonly kernelWritesPerTick: number;
}

/** How the guest comes up. */
export interface BootParams {
  /** 'builder': the toolstack writes kernel and initrd into memory; 'firmware': the BIOS loader reads them through the emulated disk. */
  readonly loader: 'builder' | 'firmware';
  /** Kernel plus initrd/boot drivers loaded before the OS runs. */
  readonly imageBytes: number;
  /** Installed system on disk (programs, libraries, data). */
  readonly systemBytes: number;
  /** Fraction of system files that are executables or libraries. */
  readonly imageFileFraction: number;
  /** System files read while booting. */
  readonly readBytes: number;
  /** Files the boot prefetcher reads in large requests ahead of use (Windows). */
  readonly prefetchBytes: number;
  /** Anonymous memory of the services started at boot. */
  readonly serviceBytes: number;
  readonly services: number;
}

export interface GuestParams {
  readonly os: OsFamily;
  readonly io: IoParams;
  readonly fs: FsParams;
  readonly mem: MemParams;
  readonly boot: BootParams;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** `base` with the fields of `over` that are set. */
export function mergeParams(base: GuestParams, over: DeepPartial<GuestParams> | undefined): GuestParams {
  if (!over) return base;
  return {
    os: over.os ?? base.os,
    io: { ...base.io, ...defined(over.io) },
    fs: { ...base.fs, ...defined(over.fs) },
    mem: { ...base.mem, ...defined(over.mem) },
    boot: { ...base.boot, ...defined(over.boot) },
  };
}

function defined<T extends object>(o: T | undefined): Partial<T> {
  const r: Partial<T> = {};
  if (!o) return r;
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) r[k] = o[k];
  return r;
}
