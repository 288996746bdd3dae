/**
 * The built-in demo guest: a small Linux-like guest on the in-memory backend. A page cache reads file
 * blocks with readahead (multi-segment requests), evicts least recently used pages and reuses them,
 * dirties cached pages and writes them back later, journals with sub-page writes, deletes files
 * (discard), and runs processes whose anonymous memory is written by the CPU. Some I/O is still in
 * flight at each checkpoint. The full guest models live in the simulator; this one exercises every
 * path of the core on real bytes.
 */
import type { Segment } from '../../core/events/batch.ts';
import { SECTORS_PER_PAGE } from '../../core/ports.ts';
import { Prng } from '../../sim/prng.ts';
import type { GuestScript } from './scripted-guest.ts';
import { MemoryWorld } from './world.ts';

export interface DemoOptions {
  readonly pages: number;
  readonly diskSectors: number;
  readonly seed: number;
  /** Guest operations between checkpoints. */
  readonly opsPerCheckpoint: number;
  readonly checkpoints: number;
}

export const DEMO_DEFAULTS: DemoOptions = {
  pages: 16384,
  diskSectors: 262144,
  seed: 1,
  opsPerCheckpoint: 4000,
  checkpoints: 2,
};

const PARTITION_START = 2048;
const MAX_SEGMENTS = 11;

export function demoWorld(o: DemoOptions): MemoryWorld {
  return new MemoryWorld({ pageCount: o.pages, disks: [{ id: 0, sectors: o.diskSectors }] });
}

export function demoScript(o: DemoOptions): GuestScript {
  return function* run(world: MemoryWorld) {
    const rng = new Prng(o.seed);
    const blocks = Math.floor((o.diskSectors - PARTITION_START) / SECTORS_PER_PAGE);
    const journalBlocks = Math.min(256, blocks >> 4);
    const cache = new Map<number, number>(); // block -> pfn, in LRU order (oldest first)
    const owner = new Int32Array(o.pages).fill(-1); // pfn -> cached block, -1 anonymous/free
    const dirty = new Set<number>();
    const free: number[] = [];
    for (let p = o.pages - 1; p >= 0; p--) free.push(p);
    let nextId = 1;
    let journalHead = 0;
    const inflight: number[] = [];
    // Pages under I/O are pinned, as a real page cache pins pages under read or writeback.
    const pinned = new Map<number, number[]>();
    const busy = new Uint8Array(o.pages);
    const journalPages: number[] = [];
    const sectorOf = (block: number): number => PARTITION_START + block * SECTORS_PER_PAGE;

    const takePage = (): number => {
      const p = free.pop();
      if (p !== undefined) return p;
      // Evict the least recently used clean, unpinned page; write back a dirty one first.
      for (const [block, pfn] of cache) {
        if (dirty.has(pfn) || busy[pfn]) continue;
        cache.delete(block);
        owner[pfn] = -1;
        return pfn;
      }
      const [block, pfn] = [...cache].find(([, p]) => !busy[p])!;
      writeback([pfn]);
      cache.delete(block);
      owner[pfn] = -1;
      return pfn;
    };
    const complete = (id: number, ok: boolean): void => {
      world.complete(id, ok);
      for (const pfn of pinned.get(id) ?? []) busy[pfn]!--;
      pinned.delete(id);
    };
    const submitted = (id: number, pfns: number[] = []): void => {
      inflight.push(id);
      pinned.set(id, pfns);
      for (const pfn of pfns) busy[pfn]!++;
      // A ring holds a handful of requests; the oldest completes when it fills.
      while (inflight.length > 8) complete(inflight.shift()!, !rng.chance(0.002));
    };
    const readFile = (start: number, pages: number): void => {
      const segs: Segment[] = [];
      for (let b = start; b < start + pages && b < blocks; b++) {
        if (cache.has(b)) continue;
        const pfn = takePage();
        cache.set(b, pfn);
        owner[pfn] = b;
        if (segs.length > 0 && segs.length < MAX_SEGMENTS && owner[segs[segs.length - 1]![0]] === b - 1) {
          segs.push([pfn, 0, 7]);
          continue;
        }
        flushRead(segs);
        segs.push([pfn, 0, 7]);
      }
      flushRead(segs);
    };
    const flushRead = (segs: Segment[]): void => {
      if (segs.length === 0) return;
      const id = nextId++;
      const taken = segs.splice(0);
      world.submit(id, 'read', 0, sectorOf(owner[taken[0]![0]]!), taken);
      submitted(
        id,
        taken.map((seg) => seg[0]),
      );
    };
    const writeback = (pfns: number[]): void => {
      for (const pfn of pfns) {
        const id = nextId++;
        world.submit(id, 'write', 0, sectorOf(owner[pfn]!), [[pfn, 0, 7]]);
        dirty.delete(pfn);
        submitted(id, [pfn]);
      }
    };
    const journal = (): void => {
      // The journal cycles through a few buffers of its own, each free again once its write is done.
      const id = nextId++;
      if (journalPages.length < 16) journalPages.push(takePage());
      const pfn = journalPages[journalHead % journalPages.length]!;
      while (busy[pfn]) complete(inflight.shift()!, true);
      world.memWrite([pfn]);
      const sector = sectorOf(blocks - journalBlocks + (journalHead++ % journalBlocks)) + rng.int(8);
      world.submit(id, 'write', 0, sector, [[pfn, 0, 0]]);
      submitted(id, [pfn]);
    };

    for (let c = 1; c <= o.checkpoints; c++) {
      for (let op = 0; op < o.opsPerCheckpoint; op++) {
        const r = rng.next();
        if (r < 0.35) readFile(rng.int(blocks - journalBlocks), 1 + rng.int(32));
        else if (r < 0.55) {
          const pfn = takePage(); // a process touches anonymous memory
          world.memWrite([pfn]);
        } else if (r < 0.65 && cache.size > 0) {
          const pfn = [...cache.values()][rng.int(cache.size)]!; // a file is modified in the cache
          if (!busy[pfn]) {
            world.memWrite([pfn]);
            dirty.add(pfn);
          }
        } else if (r < 0.75 && dirty.size > 0) writeback([...dirty].slice(0, 16));
        else if (r < 0.85) journal();
        else if (r < 0.9 && cache.size > 64) {
          // A file is deleted: its pages are freed and its blocks discarded.
          const victims = [...cache].slice(rng.int(cache.size - 32), -1).slice(0, 8);
          for (const [block, pfn] of victims) {
            if (busy[pfn]) continue;
            cache.delete(block);
            dirty.delete(pfn);
            owner[pfn] = -1;
            free.push(pfn);
            const id = nextId++;
            world.submitDiscard(id, 0, sectorOf(block), SECTORS_PER_PAGE);
            submitted(id);
          }
        } else if (r < 0.93 && free.length > 0) {
          world.release([free.pop()!]); // the balloon takes a page
        } else if (inflight.length > 0) complete(inflight.shift()!, true);
      }
      yield `demo-${c}`;
    }
    while (inflight.length > 0) complete(inflight.shift()!, true);
  };
}
