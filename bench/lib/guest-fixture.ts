/**
 * A simulated guest made real for the image benchmarks: the simulator runs a workload, the replay world
 * gives it content and the tracker its map; then guest memory is materialised into real buffers and
 * the mapped sectors into a sparse raw disk file, so the writer and the restore do real memory copies
 * and real file I/O, exactly as with a live guest and a disk image.
 */
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileBlockStore } from '../../backends/file/file-block-store.ts';
import type { EventBatch } from '../../core/events/batch.ts';
import type { MapSnapshot } from '../../core/pbmap/map-snapshot.ts';
import { PAGE_SIZE, SECTOR_SIZE, SECTORS_PER_PAGE, type GuestMemory } from '../../core/ports.ts';
import { traceGeometry } from '../../core/trace/header.ts';
import { PageBlockTracker, type CheckpointCut } from '../../core/tracker/tracker.ts';
import { materialize } from '../../sim/content/seeds.ts';
import { simulate, type SimulationOptions } from '../../sim/index.ts';
import { ReplayWorld } from '../../sim/replay/replay-world.ts';

/** 256 MiB per buffer: well under Node's Buffer limit, and few of them. */
const CHUNK_PAGES = 65536;

/** Guest memory as real bytes. */
export class RealMemory implements GuestMemory {
  readonly chunks: Buffer[] = [];

  constructor(readonly pageCount: number) {
    for (let p = 0; p < pageCount; p += CHUNK_PAGES) {
      this.chunks.push(Buffer.alloc(Math.min(CHUNK_PAGES, pageCount - p) * PAGE_SIZE));
    }
  }

  readPage(pfn: number, dst: Uint8Array): void {
    const off = (pfn % CHUNK_PAGES) * PAGE_SIZE;
    this.chunks[Math.floor(pfn / CHUNK_PAGES)]!.copy(dst, 0, off, off + PAGE_SIZE);
  }

  /** A plain Uint8Array view (a Buffer's subarray costs several times as much per page). */
  pageView(pfn: number): Uint8Array {
    const chunk = this.chunks[Math.floor(pfn / CHUNK_PAGES)]!;
    return new Uint8Array(chunk.buffer, chunk.byteOffset + (pfn % CHUNK_PAGES) * PAGE_SIZE, PAGE_SIZE);
  }

  writePage(pfn: number, src: Uint8Array): void {
    this.chunks[Math.floor(pfn / CHUNK_PAGES)]!.set(
      src.subarray(0, PAGE_SIZE),
      (pfn % CHUNK_PAGES) * PAGE_SIZE,
    );
  }
}

/** A restore target that compares each page written with the guest's, and counts them. */
export class ComparingMemory implements GuestMemory {
  readonly pageCount: number;
  private readonly seen: Uint8Array;
  mismatches = 0;

  constructor(private readonly guest: RealMemory) {
    this.pageCount = guest.pageCount;
    this.seen = new Uint8Array(guest.pageCount);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    this.guest.readPage(pfn, dst);
  }

  writePage(pfn: number, src: Uint8Array): void {
    const off = (pfn % CHUNK_PAGES) * PAGE_SIZE;
    const chunk = this.guest.chunks[Math.floor(pfn / CHUNK_PAGES)]!;
    if (this.seen[pfn] || chunk.compare(src, 0, PAGE_SIZE, off, off + PAGE_SIZE) !== 0) this.mismatches++;
    this.seen[pfn] = 1;
  }

  /** Throws unless every page arrived once with the guest's content. */
  check(what: string): void {
    const missing = this.seen.length - this.seen.reduce((n, s) => n + s, 0);
    if (this.mismatches > 0 || missing > 0) {
      throw new Error(`${what} restore: ${this.mismatches} page(s) wrong or repeated, ${missing} missing`);
    }
  }
}

export interface GuestFixture {
  readonly memory: RealMemory;
  readonly mapping: MapSnapshot;
  readonly blocks: FileBlockStore;
  readonly events: number;
  readonly simulateSeconds: number;
}

/** Runs the simulation to its final checkpoint and materialises memory and the mapped disk sectors. */
export function buildGuest(sim: SimulationOptions, dir: string): GuestFixture {
  const t0 = performance.now();
  const s = simulate(sim);
  const geometry = traceGeometry(s.header);
  const world = new ReplayWorld(geometry);
  const tracker = new PageBlockTracker(geometry);
  let cut: CheckpointCut | undefined;
  let events = 0;
  for (const batch of s.batches as Iterable<EventBatch>) {
    world.apply(batch);
    tracker.apply(batch, (c) => (cut = c));
    events += batch.length;
  }
  if (!cut) throw new Error('the simulation ended without a checkpoint');
  const simulateSeconds = (performance.now() - t0) / 1000;

  const memory = new RealMemory(geometry.pageCount);
  memory.chunks.forEach((c, i) =>
    materialize(world.memory, i * CHUNK_PAGES * SECTORS_PER_PAGE, c.length / SECTOR_SIZE, c),
  );

  // Sparse disk files holding exactly the sectors the mapping references, in long sequential runs.
  const frozen = world.snapshotDisks();
  const manifest = geometry.disks.map((d) => ({
    ...d,
    uuid: `bench-disk-${d.id}`,
    file: join(dir, `disk-${d.id}.img`),
  }));
  const m = cut.mapping;
  const RUN = 2048;
  const seeds = new Float64Array(RUN + SECTORS_PER_PAGE);
  const bytes = Buffer.alloc(seeds.length * SECTOR_SIZE);
  for (const d of manifest) {
    const fd = openSync(d.file, 'w');
    try {
      ftruncateSync(fd, d.sectors * SECTOR_SIZE);
      const disk = frozen.get(d.id)!;
      let start = -1;
      let end = -1;
      const flush = (): void => {
        if (start < 0) return;
        disk.read(start, end - start, seeds);
        materialize(seeds, 0, end - start, bytes);
        writeSync(fd, bytes, 0, (end - start) * SECTOR_SIZE, start * SECTOR_SIZE);
      };
      for (let i = 0; i < m.length; i++) {
        if (m.disk[i] !== d.id) continue;
        const s8 = m.sector[i]!;
        if (start >= 0 && s8 <= end && s8 + SECTORS_PER_PAGE - start <= RUN + SECTORS_PER_PAGE) {
          end = Math.max(end, s8 + SECTORS_PER_PAGE);
          continue;
        }
        flush();
        start = s8;
        end = s8 + SECTORS_PER_PAGE;
      }
      flush();
    } finally {
      closeSync(fd);
    }
  }
  writeFileSync(join(dir, 'disks.json'), JSON.stringify({ disks: manifest }));
  return { memory, mapping: m, blocks: new FileBlockStore(manifest), events, simulateSeconds };
}
