/**
 * An in-memory guest whose memory and disks are real bytes: the ground truth the core is checked
 * against. Requests move data when `transfer` says so, at any moment between submit and completion,
 * as real DMA does; the hypervisor-visible events (submit, complete, memory writes, releases,
 * checkpoints) go to `emit` in order. Whatever the tracker concludes, the bytes here are the truth.
 */
import { BatchBuilder } from '../../core/events/builder.ts';
import type { EventBatch, Segment } from '../../core/events/batch.ts';
import {
  PAGE_SIZE,
  SECTOR_SIZE,
  type BlockStore,
  type ContentProbe,
  type DiskIdentity,
  type GuestGeometry,
  type GuestMemory,
} from '../../core/ports.ts';
import { fillInitialSector, UniqueContent } from './content.ts';

export interface WorldRequest {
  readonly id: number;
  readonly dir: 'read' | 'write' | 'discard';
  readonly disk: number;
  readonly sector: number;
  readonly segs: readonly Segment[];
  /** Sectors covered (for a discard, its length). */
  readonly count: number;
  /** Which transfer units are done: one per segment, or one for a discard. */
  readonly done: boolean[];
}

export interface WorldOptions {
  readonly pageCount: number;
  readonly disks: readonly { id: number; sectors: number }[];
  /** 'unique' fills every page with distinct content first (sharper tests); 'zero' is a fresh guest. */
  readonly initialMemory?: 'zero' | 'unique';
}

export class MemoryWorld implements GuestMemory {
  readonly pageCount: number;
  readonly geometry: GuestGeometry;
  readonly memory: Uint8Array;
  readonly disks = new Map<number, Uint8Array>();
  private readonly inflight = new Map<number, WorldRequest>();
  private readonly unique = new UniqueContent(0x5eed);
  private readonly out = new BatchBuilder();
  private snapshots = 0;

  constructor(opts: WorldOptions) {
    this.pageCount = opts.pageCount;
    this.geometry = { pageCount: opts.pageCount, disks: opts.disks };
    this.memory = new Uint8Array(opts.pageCount * PAGE_SIZE);
    for (const d of opts.disks) {
      const bytes = new Uint8Array(d.sectors * SECTOR_SIZE);
      for (let s = 0; s < d.sectors; s++) fillInitialSector(d.id, s, bytes.subarray(s * SECTOR_SIZE));
      this.disks.set(d.id, bytes);
    }
    if (opts.initialMemory === 'unique')
      for (let p = 0; p < this.pageCount; p++) this.unique.fillPage(this.page(p));
  }

  /** The events emitted since the last call, as one batch. */
  takeEvents(): EventBatch {
    return this.out.build();
  }

  inflightRequests(): WorldRequest[] {
    return [...this.inflight.values()];
  }

  page(pfn: number): Uint8Array {
    return this.memory.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
  }

  sectors(disk: number, sector: number, count: number): Uint8Array {
    return this.disks.get(disk)!.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    dst.set(this.page(pfn));
  }

  writePage(pfn: number, src: Uint8Array): void {
    this.page(pfn).set(src.subarray(0, PAGE_SIZE));
  }

  submit(id: number, dir: 'read' | 'write', disk: number, sector: number, segs: readonly Segment[]): void {
    const count = segs.reduce((n, [, f, l]) => n + l - f + 1, 0);
    this.inflight.set(id, { id, dir, disk, sector, segs, count, done: segs.map(() => false) });
    this.out.submit(id, dir, disk, sector, segs);
  }

  submitDiscard(id: number, disk: number, sector: number, count: number): void {
    this.inflight.set(id, { id, dir: 'discard', disk, sector, segs: [], count, done: [false] });
    this.out.submitDiscard(id, disk, sector, count);
  }

  /** Moves the data of transfer unit `unit` of request `id` now (invisible to the hypervisor). */
  transfer(id: number, unit: number): void {
    const req = this.inflight.get(id);
    if (!req || req.done[unit] !== false) return;
    req.done[unit] = true;
    if (req.dir === 'discard') {
      this.sectors(req.disk, req.sector, req.count).fill(0);
      return;
    }
    let s = req.sector;
    for (let k = 0; k < unit; k++) s += req.segs[k]![2] - req.segs[k]![1] + 1;
    const [pfn, first, last] = req.segs[unit]!;
    const n = last - first + 1;
    const inPage = this.page(pfn).subarray(first * SECTOR_SIZE, (last + 1) * SECTOR_SIZE);
    const onDisk = this.sectors(req.disk, s, n);
    if (req.dir === 'read') inPage.set(onDisk);
    else onDisk.set(inPage);
  }

  /** Completes request `id`: on success every unit not yet moved moves now; a failure moves no more. */
  complete(id: number, ok: boolean): void {
    const req = this.inflight.get(id);
    if (!req) throw new Error(`world: request ${id} not in flight`);
    if (ok) for (let u = 0; u < req.done.length; u++) this.transfer(id, u);
    this.inflight.delete(id);
    this.out.complete(id, ok);
  }

  memWrite(pfns: readonly number[]): void {
    for (const pfn of pfns) this.unique.fillPage(this.page(pfn));
    this.out.memWrite(pfns);
  }

  release(pfns: readonly number[]): void {
    // A released page comes back scrubbed, but a stale mapping must not be trusted for it either.
    for (const pfn of pfns) this.page(pfn).fill(0);
    this.out.release(pfns);
  }

  checkpoint(name: string): void {
    this.out.checkpoint(name);
  }

  /** A frozen copy of the disks, as a block store an image can reference. */
  snapshotDisks(): MemoryBlockStore {
    const n = ++this.snapshots;
    const copy = new Map<number, Uint8Array>();
    for (const [id, bytes] of this.disks) copy.set(id, bytes.slice());
    const ids: DiskIdentity[] = this.geometry.disks.map((d) => ({
      ...d,
      uuid: `memory-snapshot-${n}-disk-${d.id}`,
    }));
    return new MemoryBlockStore(ids, copy);
  }

  /** A copy of guest memory (for comparing a restore with the guest at its checkpoint). */
  snapshotMemory(): Uint8Array {
    return this.memory.slice();
  }
}

/** Disks held in memory, read through the BlockStore port. */
export class MemoryBlockStore implements BlockStore {
  constructor(
    readonly disks: readonly DiskIdentity[],
    readonly bytes: ReadonlyMap<number, Uint8Array>,
  ) {}

  readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    const d = this.bytes.get(disk);
    if (!d) return Promise.reject(new Error(`no disk ${disk}`));
    dst.set(d.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE));
    return Promise.resolve();
  }
}

/** Guest memory held in a flat buffer, for restores. */
export class FlatMemory implements GuestMemory {
  readonly bytes: Uint8Array;

  constructor(readonly pageCount: number) {
    this.bytes = new Uint8Array(pageCount * PAGE_SIZE);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE));
  }

  writePage(pfn: number, src: Uint8Array): void {
    this.bytes.set(src.subarray(0, PAGE_SIZE), pfn * PAGE_SIZE);
  }
}

/** Hashes of the world's current bytes, for hash revalidation. */
export function worldProbe(world: MemoryWorld, hash64: (b: Uint8Array) => bigint): ContentProbe {
  return {
    hashPage: (pfn) => hash64(world.page(pfn)),
    hashSectors: (disk, sector) => hash64(world.sectors(disk, sector, 8)),
  };
}
