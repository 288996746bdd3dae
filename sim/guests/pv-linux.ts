/**
 * A paravirtualized Linux guest (2.6.32-xen / 3.x era): blkfront puts the page cache's own pages in the
 * ring (grant references), so every full-page transfer is a DMA straight into or out of the page that
 * keeps the data. The kernel is loaded by the toolstack; there is no firmware and no emulated device
 * memory. ext4 on a 1 MiB-aligned partition, swap partition, self-ballooning balloon driver.
 */
import { GiB, KiB, MiB, type GuestKind } from './types.ts';

export const PV_LINUX: GuestKind = {
  name: 'pv-linux',
  description: 'paravirtualized Linux: blkfront, 11-segment requests straight into page cache pages',
  params: {
    os: 'linux',
    io: {
      driver: 'blkfront',
      diskId: 51712, // xvda
      maxSegments: 11, // BLKIF_MAX_SEGMENTS_PER_REQUEST
      ringDepth: 32, // one-page ring
      chunkSectors: 0,
      subPageSplitRate: 0,
      bounceRate: 0,
      dmaLimitBytes: 0,
      bouncePoolPages: 0,
      completionRate: 0.35,
      failRate: 2e-5,
      maxDiscardSectors: 8192,
    },
    fs: {
      name: 'ext4',
      blockSize: 4096,
      partitionStart: 2048,
      metaFraction: 0.02,
      inodeBytes: 256,
      journal: 'blocks',
      journalBytes: 128 * MiB,
      logRecordBytes: 0,
      commitInterval: 500, // commit=5 s
      metaWriteSectors: 0,
      discard: true,
      residentBytes: 0,
      swap: 'partition',
    },
    mem: {
      reservedBytes: 16 * KiB, // start_info, shared info, xenstore and console rings
      kernelBytes: 20 * MiB,
      memmapFraction: 64 / 4096, // struct page
      slabMaxFraction: 0.04,
      slabBytesPerFile: 1024, // inode + dentry
      lowWatermarkFraction: 0.01,
      raInitPages: 4,
      raMaxPages: 32, // 128 KiB read_ahead_kb
      dirtyExpire: 3000, // dirty_expire_centisecs 30 s
      writebackInterval: 500, // dirty_writeback_centisecs 5 s
      dirtyBackgroundFraction: 0.1,
      writebackChunk: 1024,
      swappiness: 60,
      swapFraction: 0.5,
      pageCluster: 8, // page-cluster 3
      zeroFreedPages: false,
      zeroPerTick: 0,
      balloon: false, // the driver is there; self-ballooning is opt-in (SimulationOptions.balloon)
      balloonMaxFraction: 0.25,
      relocateRate: 0, // position-independent code: library pages stay as read
      kernelWritesPerTick: 0.5,
    },
    boot: {
      loader: 'builder',
      imageBytes: 24 * MiB,
      systemBytes: 2 * GiB,
      imageFileFraction: 0.3,
      readBytes: 160 * MiB,
      prefetchBytes: 0,
      serviceBytes: 96 * MiB,
      services: 12,
    },
  },
};
