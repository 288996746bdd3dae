/**
 * Fully virtualized Windows (7 / Server 2008 R2 era) on the same emulated IDE path as hvm-linux.
 * Windows-specific mechanisms: a larger kernel footprint (kernel, HAL, drivers, pools); the zero page
 * thread clears every freed page in the background; the cache manager and memory manager read in larger
 * clusters and the boot prefetcher reads ahead in large requests; ASLR relocates executable images
 * in place after they are read; NTFS keeps small files resident in their 1 KiB MFT record, writes MFT
 * records (2 sectors) rather than pages, and logs small records to $LogFile; the pagefile is a file
 * on the NTFS volume. No balloon driver without PV drivers.
 */
import { HVM_LINUX } from './hvm-linux.ts';
import { GiB, MiB, type GuestKind } from './types.ts';

const base = HVM_LINUX.params;

export const HVM_WINDOWS: GuestKind = {
  name: 'hvm-windows',
  description: 'fully virtualized Windows: emulated IDE, page zeroing, image relocation, NTFS records',
  params: {
    os: 'windows',
    io: {
      ...base.io,
    },
    fs: {
      name: 'ntfs',
      blockSize: 4096,
      partitionStart: 2048,
      metaFraction: 0.03,
      inodeBytes: 1024, // MFT record
      journal: 'records',
      journalBytes: 64 * MiB, // $LogFile
      logRecordBytes: 256,
      commitInterval: 200,
      metaWriteSectors: 2, // one MFT record
      discard: true,
      residentBytes: 700,
      swap: 'file',
    },
    mem: {
      ...base.mem,
      reservedBytes: 10 * MiB,
      kernelBytes: 160 * MiB, // ntoskrnl, HAL, drivers, nonpaged pool, system PTEs
      memmapFraction: 28 / 4096, // PFN database
      slabMaxFraction: 0.08, // paged pool, registry
      slabBytesPerFile: 2048,
      raInitPages: 16, // 64 KiB cluster reads
      raMaxPages: 64,
      dirtyExpire: 1000, // lazy writer
      writebackInterval: 200,
      dirtyBackgroundFraction: 0.05,
      swappiness: 100, // working-set trimming sends private pages to the pagefile readily
      swapFraction: 1,
      pageCluster: 16,
      zeroFreedPages: true,
      zeroPerTick: 64,
      balloon: false,
      relocateRate: 0.35,
      kernelWritesPerTick: 2,
    },
    boot: {
      loader: 'firmware',
      imageBytes: 40 * MiB,
      systemBytes: 8 * GiB,
      imageFileFraction: 0.4,
      readBytes: 300 * MiB,
      prefetchBytes: 200 * MiB,
      serviceBytes: 200 * MiB,
      services: 30,
    },
  },
};
