/**
 * Linux with PV drivers in an HVM container. The I/O path is blkfront as in pv-linux, but: firmware
 * (hvmloader, BIOS, ACPI tables) and the emulated VGA's memory come out of the guest's memory; the
 * bootloader reads kernel and initrd through the emulated disk via the BIOS (a bounce buffer, then
 * copies); a distribution kernel carries emulated-device drivers too; blkfront negotiates indirect
 * descriptors (32-segment requests, more data in flight) and persistent grants, whose copies through
 * the granted buffer pool we model as a share of requests bounced.
 */
import { PV_LINUX } from './pv-linux.ts';
import { MiB, type GuestKind } from './types.ts';

const base = PV_LINUX.params;

export const PVHVM_LINUX: GuestKind = {
  name: 'pvhvm-linux',
  description: 'Linux on HVM with PV drivers: blkfront with indirect segments, firmware and VGA memory',
  params: {
    ...base,
    io: {
      ...base.io,
      maxSegments: 32, // max_indirect_segments
      bounceRate: 0.1, // requests copied through persistently granted buffers
      bouncePoolPages: 352, // the persistent grant pool (32 requests x 11 segments)
    },
    mem: {
      ...base.mem,
      reservedBytes: 10 * MiB, // hvmloader + BIOS + ACPI (2 MiB) and 8 MiB VGA memory
      kernelBytes: 28 * MiB,
    },
    boot: {
      ...base.boot,
      loader: 'firmware',
      imageBytes: 30 * MiB,
    },
  },
};
