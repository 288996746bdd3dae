/**
 * An OLTP database with its own buffer pool (InnoDB-style, O_DIRECT): the pool is locked anonymous
 * memory in 16 KiB frames; misses read a frame straight from the data file into pool pages (DMA into
 * anonymous memory), evicting a clean or flushing a dirty frame (O_DIRECT writes from pool pages);
 * transactions modify rows in frames and append redo records to a log buffer that is written to the
 * redo log in 512-byte blocks (sub-page O_DIRECT writes). A page cleaner flushes dirty frames in the
 * background; client connections come and go. Should the server die (the OOM killer), it restarts.
 */
import type { GuestOs } from '../os/kernel.ts';
import { MiB, type Workload } from './types.ts';

const FRAME = 4; // pages per 16 KiB database page
const LOG_BUFFER = 16;

interface Server {
  readonly pid: number;
  /** Log buffer pages, then the pool's pages. */
  readonly pfns: Int32Array;
  readonly pool: Int32Array;
  readonly frames: number;
  /** Frame -> database page held (-1 none); database page -> frame (-1 none). */
  readonly pageIn: Int32Array;
  readonly frameOf: Int32Array;
  readonly dirty: Uint8Array;
  readonly ref: Uint8Array;
}

function startServer(os: GuestOs, binaries: number[], poolBytes: number, dbPages: number): Server {
  const pid = os.exec(binaries, poolBytes + LOG_BUFFER * 4096, true);
  const pfns = new Int32Array(Math.ceil(poolBytes / 4096) + LOG_BUFFER);
  const got = os.procPages(pid, pfns);
  const frames = Math.max(0, Math.floor((got - LOG_BUFFER) / FRAME));
  return {
    pid,
    pfns,
    pool: pfns.subarray(LOG_BUFFER),
    frames,
    pageIn: new Int32Array(frames).fill(-1),
    frameOf: new Int32Array(dbPages).fill(-1),
    dirty: new Uint8Array(frames),
    ref: new Uint8Array(frames),
  };
}

export const DATABASE: Workload = {
  name: 'database',
  description: 'buffer pool with O_DIRECT reads and writes into anonymous pages, sub-page redo log writes',
  defaultEvents: (pages) => Math.max(200_000, pages * 4),
  start(os, rng) {
    os.boot();
    const mem = os.pages * 4096;
    const data = os.populateOne(Math.max(512 * MiB, 2 * mem));
    const redo = os.populateOne(64 * MiB);
    const binaries = [os.systemFile(1), os.systemFile(1)];
    const poolBytes = 0.4 * os.usableBytes;
    const dbPages = Math.floor(os.filePages(data) / FRAME);
    // A full disk leaves the file short; a database without its data file would draw page -1.
    if (dbPages < 1)
      throw new RangeError('database: the disk has no room for the data file; use a larger disk');
    const redoSectors = os.filePages(redo) * 8;
    let s = startServer(os, binaries, poolBytes, dbPages);
    let hand = 0;
    let cleaner = 0;
    let lsn = 0;
    let step = 0;
    const clients: number[] = [];

    const flush = (f: number): void => {
      os.directWrite(data, s.pageIn[f]! * FRAME, FRAME, s.pool, f * FRAME);
      s.dirty[f] = 0;
    };
    const frameFor = (dbp: number): number => {
      let f = s.frameOf[dbp]!;
      if (f >= 0) return f;
      for (;;) {
        f = hand;
        hand = (hand + 1) % s.frames;
        if (s.ref[f]) s.ref[f] = 0;
        else break;
      }
      if (s.pageIn[f]! >= 0) {
        if (s.dirty[f]) flush(f);
        s.frameOf[s.pageIn[f]!] = -1;
      }
      os.directRead(data, dbp * FRAME, FRAME, s.pool, f * FRAME);
      s.pageIn[f] = dbp;
      s.frameOf[dbp] = f;
      return f;
    };
    return () => {
      if (!os.alive(s.pid)) {
        s = startServer(os, binaries, poolBytes, dbPages);
        hand = 0;
        cleaner = 0;
      }
      if (s.frames <= 0) return;
      step++;
      const rows = 2 + rng.int(6);
      let wrote = false;
      for (let q = 0; q < rows; q++) {
        const f = frameFor(rng.skewed(dbPages, 3));
        s.ref[f] = 1;
        if (rng.chance(0.35)) {
          os.cpuWrite(s.pool, f * FRAME + rng.int(FRAME), 1);
          s.dirty[f] = 1;
          wrote = true;
        }
      }
      if (wrote) {
        const blocks = 1 + rng.int(2);
        const off = lsn % redoSectors;
        const k = Math.floor(off / 8) % LOG_BUFFER;
        os.cpuWrite(s.pfns, k, 1);
        os.directWriteSectors(redo, off, blocks, s.pfns[k]!);
        lsn += blocks;
      }
      if (step % 8 === 0) {
        for (let k = 0, n = 0; k < s.frames && n < 16; k++) {
          cleaner = (cleaner + 1) % s.frames;
          if (s.dirty[cleaner] && s.pageIn[cleaner]! >= 0) {
            flush(cleaner);
            n++;
          }
        }
      }
      if (rng.chance(0.01)) {
        if (clients.length < 8) clients.push(os.spawn(rng.logNormal(2 * MiB, 0.5) * Math.max(0.1, os.scale)));
        else os.exit(clients.shift()!);
      }
    };
  },
};
