/**
 * Anonymous memory beyond the guest's size: three processes grow until together they want all usable
 * memory and 60% of swap, then keep writing sweeps over their memory, so reclaim swaps out and faults
 * swap back in; now and then one exits and a new one starts. The page cache is left little besides
 * the system files.
 */
import { MiB, type Workload } from './types.ts';

export const MEMORY_HOG: Workload = {
  name: 'memory-hog',
  description: 'anonymous memory dominates, little page cache, swap',
  defaultEvents: (pages) => Math.max(200_000, pages * 4),
  start(os, rng) {
    os.boot();
    // Together the hogs want all usable memory and most of swap.
    const total = os.usableBytes + 0.6 * os.swapBytes;
    const hogs: { pid: number; want: number }[] = [];
    return () => {
      for (let h = hogs.length - 1; h >= 0; h--) if (!os.alive(hogs[h]!.pid)) hogs.splice(h, 1);
      if (hogs.length < 3) {
        hogs.push({ pid: os.spawn(1 * MiB), want: (total / 3) * (0.8 + 0.4 * rng.next()) });
        return;
      }
      const h = rng.int(hogs.length);
      const { pid, want } = hogs[h]!;
      if ((os.rss(pid) + os.swapped(pid)) * 4096 < want) os.grow(pid, 2 * MiB);
      else os.touch(pid, 64);
      if (rng.chance(0.002)) {
        os.exit(pid);
        hogs.splice(h, 1);
      }
      if (rng.chance(0.01)) os.readAll(os.systemFile(3), pid);
    };
  },
};
