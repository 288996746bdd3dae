/**
 * A large copy (a backup): cp streams a set of big files through a 256 KiB buffer, reading with
 * readahead and writing through the page cache; writeback follows behind. The source is 1.5 times the
 * guest's memory, so the cache turns over; backups rotate (the copy from two rounds ago is deleted).
 */
import { MiB, type Workload } from './types.ts';

const CHUNK = 64;

export const FILE_COPY: Workload = {
  name: 'file-copy',
  description: 'large file copy: streaming read and write through the page cache',
  defaultEvents: (pages) => Math.max(200_000, pages * 6),
  start(os, rng) {
    os.boot();
    const total = Math.max(256 * MiB, os.pages * 4096 * 1.5);
    const nFiles = 4;
    const sources = os.populate(nFiles, () => (total / nFiles) * (0.8 + 0.4 * rng.next()));
    const cp = os.spawn(1 * MiB);
    const rounds: number[][] = [];
    let copies: number[] = [];
    let file = 0;
    let pos = 0;
    let dst = -1;
    return () => {
      const src = sources[file]!;
      if (dst < 0) {
        dst = os.create(os.fileBytes(src), cp, 0, false);
        copies.push(dst);
      }
      os.read(src, pos, CHUNK, cp);
      os.write(dst, pos, CHUNK, cp);
      pos += CHUNK;
      if (pos < os.filePages(src)) return;
      pos = 0;
      dst = -1;
      if (++file < nFiles) return;
      file = 0;
      rounds.push(copies);
      copies = [];
      if (rounds.length > 1) for (const f of rounds.shift()!) os.remove(f);
    };
  },
};
