import { beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { RUN_MAX_GAP_SECTORS, RUN_MAX_SECTORS, SectorRuns } from '../../../core/image/sector-runs.ts';
import { PAGE_SIZE, SECTOR_SIZE, SECTORS_PER_PAGE, type BlockStore } from '../../../core/ports.ts';

let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});

/** One disk whose sector s holds the byte s & 0xff; reads complete when the test says so. */
class ManualBlockStore implements BlockStore {
  readonly disks = [{ id: 0, sectors: 1 << 16, uuid: 'manual' }];
  readonly pending: { sector: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  readSectors(_disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      this.pending.push({
        sector,
        resolve: () => {
          for (let i = 0; i < count; i++)
            dst.fill((sector + i) & 0xff, i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
          this.inFlight--;
          resolve();
        },
        reject: (e) => {
          this.inFlight--;
          reject(e);
        },
      });
    });
  }

  /** Completes the outstanding reads, newest first. */
  completeAll(): void {
    for (const r of this.pending.splice(0).reverse()) r.resolve();
  }
}

/** More than the largest gap a read spans, so pages this far apart take a read each. */
const APART = SECTORS_PER_PAGE + RUN_MAX_GAP_SECTORS + 1;

/** Adds one page every APART sectors (one read each), submitting as callers do. */
async function addPages(runs: SectorRuns, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!runs.fits(0, i * APART)) await runs.submit();
    runs.add(i, 0, i * APART, 0n);
  }
}

/** Disks whose sector s holds the byte (disk + s) & 0xff; reads complete at once and are recorded. */
class RecordingBlockStore implements BlockStore {
  readonly disks = [
    { id: 0, sectors: 1 << 20, uuid: 'zero' },
    { id: 1, sectors: 1 << 20, uuid: 'one' },
  ];
  readonly reads: { disk: number; sector: number; count: number }[] = [];

  readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    this.reads.push({ disk, sector, count });
    for (let i = 0; i < count; i++)
      dst.fill((disk + sector + i) & 0xff, i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
    return Promise.resolve();
  }
}

/** The bytes a page at (disk, sector) holds on a RecordingBlockStore. */
function pageAt(disk: number, sector: number): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < SECTORS_PER_PAGE; i++)
    page.fill((disk + sector + i) & 0xff, i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
  return page;
}

/**
 * Reads these (disk, sector) pages as callers do (fits, else submit; add; flush), checking that each
 * page is visited once, in the order added, with its own bytes and their hash.
 */
async function readAll(pages: readonly (readonly [number, number])[], depth?: number) {
  const store = new RecordingBlockStore();
  const visited: number[] = [];
  const runs = new SectorRuns(
    store,
    hasher,
    (tag, disk, sector, expected, actual, page) => {
      expect([disk, sector]).toEqual(pages[tag]);
      expect(Buffer.compare(page, pageAt(disk, sector))).toBe(0);
      expect(actual).toBe(expected);
      visited.push(tag);
    },
    depth,
  );
  for (const [tag, [disk, sector]] of pages.entries()) {
    if (!runs.fits(disk, sector)) await runs.submit();
    runs.add(tag, disk, sector, hasher.hash64(pageAt(disk, sector)));
  }
  await runs.flush();
  expect(visited).toEqual(pages.map((_, i) => i));
  expect(runs.reads).toBe(store.reads.length);
  expect(runs.bytesRead).toBe(store.reads.reduce((n, r) => n + r.count * SECTOR_SIZE, 0));
  return store.reads;
}

describe('SectorRuns joins pages across short gaps', () => {
  it('reads a gap of up to RUN_MAX_GAP_SECTORS once, with the pages around it', async () => {
    const after = SECTORS_PER_PAGE + RUN_MAX_GAP_SECTORS;
    const reads = await readAll([
      [0, 100],
      [0, 100 + after],
      [0, 100 + 2 * after - 3],
    ]);
    expect(reads).toEqual([{ disk: 0, sector: 100, count: 2 * after - 3 + SECTORS_PER_PAGE }]);
  });

  it('splits the read at a gap one sector longer than that', async () => {
    const reads = await readAll([
      [0, 100],
      [0, 108 + RUN_MAX_GAP_SECTORS + 1],
    ]);
    expect(reads).toEqual([
      { disk: 0, sector: 100, count: SECTORS_PER_PAGE },
      { disk: 0, sector: 108 + RUN_MAX_GAP_SECTORS + 1, count: SECTORS_PER_PAGE },
    ]);
  });

  it('never reads more than RUN_MAX_SECTORS at once, gaps included', async () => {
    // Pages separated by gaps of every length up to the limit, over many RUN_MAX_SECTORS.
    const pages: [number, number][] = [];
    for (let s = 5, i = 0; s < 6 * RUN_MAX_SECTORS; i++) {
      pages.push([0, s]);
      s += SECTORS_PER_PAGE + ((i * 7) % (RUN_MAX_GAP_SECTORS + 1));
    }
    const reads = await readAll(pages, 3);
    for (const r of reads) expect(r.count).toBeLessThanOrEqual(RUN_MAX_SECTORS);
    // Every gap is short enough, so a read ends only where the next page would not fit in it.
    for (let i = 1; i < reads.length; i++) {
      const r = reads[i - 1]!;
      expect(reads[i]!.sector + SECTORS_PER_PAGE - r.sector).toBeGreaterThan(RUN_MAX_SECTORS);
    }
    expect(reads.length).toBeLessThanOrEqual(7);
  });

  it('joins neither across disks nor backwards', async () => {
    const reads = await readAll([
      [0, 64],
      [1, 72],
      [1, 60],
    ]);
    expect(reads).toEqual([
      { disk: 0, sector: 64, count: SECTORS_PER_PAGE },
      { disk: 1, sector: 72, count: SECTORS_PER_PAGE },
      { disk: 1, sector: 60, count: SECTORS_PER_PAGE },
    ]);
  });
});

/** Lets the event loop run until `check()` holds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

describe('SectorRuns with several reads in flight', () => {
  it('keeps at most `depth` reads outstanding and visits pages in the order they were added', async () => {
    const store = new ManualBlockStore();
    const visited: number[] = [];
    const runs = new SectorRuns(
      store,
      hasher,
      (tag, _d, sector, _e, actual, page) => {
        expect(page.length).toBe(PAGE_SIZE);
        expect(page[0]).toBe(sector & 0xff);
        expect(actual).toBe(hasher.hash64(page));
        visited.push(tag);
      },
      4,
    );
    const adding = addPages(runs, 10).then(() => runs.flush());
    // Reads complete out of order (newest first); the visits stay in order.
    while (visited.length < 10) {
      await until(() => store.pending.length > 0);
      store.completeAll();
      await new Promise((r) => setImmediate(r));
    }
    await adding;
    expect(store.maxInFlight).toBe(4);
    expect(visited).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(runs.reads).toBe(10);
    expect(runs.bytesRead).toBe(10 * PAGE_SIZE);
  });

  it('on a failed read rejects with its error, after the other reads in flight have ended', async () => {
    const store = new ManualBlockStore();
    const visited: number[] = [];
    const runs = new SectorRuns(store, hasher, (tag) => visited.push(tag), 4);
    const adding = addPages(runs, 6).then(() => runs.flush());
    let settled = false;
    void adding.then(
      () => (settled = true),
      () => (settled = true),
    );
    await until(() => store.pending.length === 4);
    const [first, ...rest] = store.pending.splice(0);
    first!.reject(new Error('disk 0: cannot read at sector 0: EIO'));
    await new Promise((r) => setImmediate(r));
    // Still waiting for the three reads in flight, so none writes into a buffer after the failure.
    expect(settled).toBe(false);
    expect(store.inFlight).toBe(3);
    for (const r of rest) r.resolve();
    await expect(adding).rejects.toThrow('disk 0: cannot read at sector 0: EIO');
    expect(store.inFlight).toBe(0);
    expect(visited).toEqual([]);
  });

  it('a store that throws instead of rejecting fails the same way', async () => {
    const store: BlockStore = {
      disks: [{ id: 0, sectors: 64, uuid: 'x' }],
      readSectors: () => {
        throw new Error('no disk 0');
      },
    };
    const runs = new SectorRuns(store, hasher, () => undefined);
    runs.add(0, 0, 0, 0n);
    await expect(runs.flush()).rejects.toThrow('no disk 0');
  });

  it('stops at a visitor that throws, visiting no page twice', async () => {
    const store = new ManualBlockStore();
    const visited: number[] = [];
    const runs = new SectorRuns(
      store,
      hasher,
      (tag) => {
        visited.push(tag);
        if (tag === 1) throw new Error(`page ${tag} refused`);
      },
      2,
    );
    const adding = addPages(runs, 5).then(() => runs.flush());
    const pump = setInterval(() => store.completeAll(), 1);
    await expect(adding).rejects.toThrow('page 1 refused');
    clearInterval(pump);
    store.completeAll();
    expect(visited).toEqual([0, 1]);
    expect(store.inFlight).toBe(0);
    // What was left behind is dropped: a later flush reads nothing more.
    const before = runs.reads;
    await runs.flush();
    expect(runs.reads).toBe(before);
  });

  it('abandon() waits for the reads in flight and drops their pages', async () => {
    const store = new ManualBlockStore();
    const visited: number[] = [];
    const runs = new SectorRuns(store, hasher, (tag) => visited.push(tag), 8);
    await addPages(runs, 3);
    await runs.submit();
    expect(store.inFlight).toBe(3);
    const abandoning = runs.abandon();
    store.completeAll();
    await abandoning;
    expect(store.inFlight).toBe(0);
    await runs.flush();
    expect(visited).toEqual([]);
  });
});
