/**
 * PostMark (a mail/news server benchmark): first creates a pool of small files, then runs transactions,
 * each a read or an append of a random file plus a create or a delete, then (when the run is long)
 * deletes everything and starts again. Metadata-heavy: directory and inode updates, the journal, block
 * reuse, discards.
 */
import { IdSet, KiB, MiB, type Workload } from './types.ts';

export const POSTMARK: Workload = {
  name: 'postmark',
  description: 'many small files created, read, appended and deleted',
  defaultEvents: (pages) => Math.max(200_000, pages * 4),
  start(os, rng) {
    os.boot();
    const pool = Math.max(2000, Math.floor(os.pages / 16));
    const size = (): number => rng.between(512, 10 * KiB);
    const pm = os.spawn(4 * MiB * Math.max(0.1, os.scale));
    const files = new IdSet();
    let transactions = 0;
    return () => {
      if (files.size < pool && transactions === 0) {
        for (let k = 0; k < 8; k++) files.add(os.create(size(), pm));
        return;
      }
      transactions++;
      const f = files.pick(rng);
      if (rng.chance(0.5)) os.readAll(f, pm);
      else os.append(f, rng.between(512, 4 * KiB), pm);
      if (rng.chance(0.5)) files.add(os.create(size(), pm));
      else if (files.size > 1) os.remove(files.take(rng.int(files.size)));
      if (transactions >= pool * 20) {
        while (files.size > 0) os.remove(files.take(files.size - 1));
        transactions = 0;
      }
    };
  },
};
