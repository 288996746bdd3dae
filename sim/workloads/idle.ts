/**
 * An idle guest: boots (kernel, libraries, services), then mostly waits. Now and then cron starts a
 * short job, services log a line, daemons wake up and touch a little memory.
 */
import { KiB, MiB, type Workload } from './types.ts';

export const IDLE: Workload = {
  name: 'idle',
  description: 'boot, then idle: cron jobs, log lines, daemons waking up',
  defaultEvents: (pages) => 20_000 + Math.floor(pages / 8),
  start(os, rng) {
    os.boot();
    const log = os.create(64 * KiB, -1);
    return () => {
      const r = rng.next();
      if (r < 0.01) {
        const job = os.exec([os.systemFile(6), os.systemFile(6)], 2 * MiB);
        os.readAll(os.systemFile(4), job);
        os.touch(job, 128);
        os.exit(job);
      } else if (r < 0.4) {
        os.append(log, rng.between(80, 300), -1);
      } else if (r < 0.6 && os.services.length > 0) {
        os.touch(os.services[rng.int(os.services.length)]!, 2);
      }
      // Each step is a stretch of idle time: 20 units.
      os.tick(19);
    };
  },
};
