/**
 * Fully virtualized Linux: the disk is an emulated IDE controller in the device model (qemu-dm). One
 * command at a time per channel; the device model moves a command's data in pieces as it walks the
 * PRD table, each piece its own transfer, and a piece can end inside a page (that page is then filled
 * by two sub-page transfers). Some transfers are staged through bounce buffers and copied by the CPU
 * (PIO-mode commands, device-model copies); a 32-bit PAE guest kernel would also bounce every page
 * above the 896 MiB highmem line (dmaLimitBytes).
 */
import { PV_LINUX } from './pv-linux.ts';
import { MiB, type GuestKind } from './types.ts';

const base = PV_LINUX.params;

export const HVM_LINUX: GuestKind = {
  name: 'hvm-linux',
  description: 'fully virtualized Linux: emulated IDE, PRD pieces, bounce buffers, sub-page transfers',
  params: {
    ...base,
    io: {
      driver: 'ide',
      diskId: 768, // hda
      maxSegments: 32, // 256 sectors per ATA command
      ringDepth: 1, // no command queueing on emulated PIIX IDE
      chunkSectors: 64,
      subPageSplitRate: 0.25,
      bounceRate: 0.3, // staged through a bounce buffer: PIO commands, device-model copies
      dmaLimitBytes: 0, // a 64-bit guest; 896 MiB models a 32-bit PAE kernel bouncing highmem
      bouncePoolPages: 64,
      completionRate: 0.5,
      failRate: 2e-5,
      maxDiscardSectors: 2048,
    },
    mem: {
      ...base.mem,
      reservedBytes: 10 * MiB,
      kernelBytes: 28 * MiB,
      balloon: false, // no PV drivers, no balloon driver
    },
    boot: {
      ...base.boot,
      loader: 'firmware',
      imageBytes: 30 * MiB,
    },
  },
};
