/**
 * In-memory GuestMemory and BlockStore fakes for image tests, plus helpers to build guests whose
 * mappings are true and to take images apart and put them back together with valid checksums.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hasher64 } from '../../core/hash.ts';
import { encodeFileHeader } from '../../core/image/file-header.ts';
import { FILE_HEADER_SIZE, framedSize, REC_HEADER_SIZE } from '../../core/image/format.ts';
import { frameRecord } from '../../core/image/frame.ts';
import type { ImageInput } from '../../core/image/types.ts';
import { sortedSnapshot, type MapSnapshot } from '../../core/pbmap/map-snapshot.ts';
import {
  PAGE_SIZE,
  SECTOR_SIZE,
  SECTORS_PER_PAGE,
  type BlockStore,
  type DiskIdentity,
  type GuestMemory,
} from '../../core/ports.ts';

/** Guest memory in one array. `reads` counts readPage calls per pfn. */
export class ArrayMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  readonly reads: Uint32Array;

  constructor(
    readonly pageCount: number,
    fillByte = 0,
  ) {
    this.bytes = new Uint8Array(pageCount * PAGE_SIZE).fill(fillByte);
    this.reads = new Uint32Array(pageCount);
  }

  page(pfn: number): Uint8Array {
    this.check(pfn);
    return this.bytes.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    this.reads[pfn]!++;
    dst.set(this.page(pfn));
  }

  writePage(pfn: number, src: Uint8Array): void {
    if (src.length !== PAGE_SIZE) throw new RangeError(`writePage: ${src.length} bytes`);
    this.page(pfn).set(src);
  }

  private check(pfn: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.pageCount) throw new RangeError(`pfn ${pfn}`);
  }
}

/**
 * Memory whose page content is computed, for guests too large to hold: readPage fills from `content`,
 * writePage compares against it and records pfns that came back different.
 */
export class PatternMemory implements GuestMemory {
  readonly wrong: number[] = [];
  written = 0;
  private readonly expected = new Uint8Array(PAGE_SIZE);

  constructor(
    readonly pageCount: number,
    private readonly content: (pfn: number, dst: Uint8Array) => void,
  ) {}

  readPage(pfn: number, dst: Uint8Array): void {
    this.content(pfn, dst);
  }

  writePage(pfn: number, src: Uint8Array): void {
    this.written++;
    this.content(pfn, this.expected);
    if (Buffer.compare(src, this.expected) !== 0) this.wrong.push(pfn);
  }
}

export interface SectorRead {
  readonly disk: number;
  readonly sector: number;
  readonly count: number;
}

/** Disks as arrays; logs every read so tests can check coalescing and order. */
export class ArrayBlockStore implements BlockStore {
  readonly reads: SectorRead[] = [];
  private readonly content: Map<number, Uint8Array>;

  constructor(
    readonly disks: readonly DiskIdentity[],
    content?: Map<number, Uint8Array>,
  ) {
    this.content = content ?? new Map(disks.map((d) => [d.id, new Uint8Array(d.sectors * SECTOR_SIZE)]));
  }

  /** Same content, other identities (e.g. a different uuid): what a restore must refuse. */
  withDisks(disks: readonly DiskIdentity[]): ArrayBlockStore {
    return new ArrayBlockStore(disks, this.content);
  }

  bytes(disk: number): Uint8Array {
    const b = this.content.get(disk);
    if (b === undefined) throw new Error(`no disk ${disk}`);
    return b;
  }

  sectors(disk: number, sector: number, count: number): Uint8Array {
    return this.bytes(disk).subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE);
  }

  async readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    this.reads.push({ disk, sector, count });
    const b = this.bytes(disk);
    if (sector < 0 || (sector + count) * SECTOR_SIZE > b.length)
      throw new RangeError(`disk ${disk} sector ${sector}`);
    if (dst.length !== count * SECTOR_SIZE)
      throw new RangeError(`dst of ${dst.length} bytes for ${count} sectors`);
    dst.set(this.sectors(disk, sector, count));
  }
}

/** xorshift32: deterministic bytes from a seed. */
export function fillRandom(bytes: Uint8Array, seed: number): void {
  let x = seed | 0 || 0x9e3779b9;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}

export interface MappedPage {
  readonly pfn: number;
  readonly disk: number;
  readonly sector: number;
}

export interface GuestSpec {
  readonly pages: number;
  /** Sizes of disks 0, 1, ... in sectors. */
  readonly diskSectors: readonly number[];
  /** Pages whose content is made equal to the 8 sectors they map to. */
  readonly mapped?: readonly MappedPage[];
  /** Pages (not mapped) that are all zero. */
  readonly zeroPages?: readonly number[];
  /** Disk sector ranges [disk, sector, count] zeroed before mapped pages are copied. */
  readonly zeroSectors?: readonly (readonly [number, number, number])[];
  readonly seed?: number;
  readonly state?: Uint8Array;
}

export interface Guest {
  readonly memory: ArrayMemory;
  readonly blocks: ArrayBlockStore;
  readonly disks: readonly DiskIdentity[];
  readonly mapping: MapSnapshot;
  readonly state: Uint8Array;
}

/** A guest with random content whose mapping is true: each mapped page holds its disk sectors. */
export function makeGuest(spec: GuestSpec): Guest {
  const seed = spec.seed ?? 1;
  const disks = spec.diskSectors.map((sectors, id) => ({ id, sectors, uuid: `disk-${id}-snap-${seed}` }));
  const blocks = new ArrayBlockStore(disks);
  for (const d of disks) fillRandom(blocks.bytes(d.id), seed * 31 + d.id + 7);
  for (const [disk, sector, count] of spec.zeroSectors ?? []) blocks.sectors(disk, sector, count).fill(0);
  const memory = new ArrayMemory(spec.pages);
  fillRandom(memory.bytes, seed * 17 + 3);
  for (const pfn of spec.zeroPages ?? []) memory.page(pfn).fill(0);
  const mapped = spec.mapped ?? [];
  for (const m of mapped) memory.page(m.pfn).set(blocks.sectors(m.disk, m.sector, SECTORS_PER_PAGE));
  const mapping = sortedSnapshot(
    Uint32Array.from(mapped, (m) => m.pfn),
    Uint32Array.from(mapped, (m) => m.disk),
    Float64Array.from(mapped, (m) => m.sector),
  );
  const state = spec.state ?? Uint8Array.from({ length: 100 + (seed & 63) }, (_, i) => (i * 7 + seed) & 0xff);
  return { memory, blocks, disks, mapping, state };
}

export function inputOf(guest: Guest, hasher: Hasher64): ImageInput {
  return { ...guest, hasher };
}

/** A restore target for `guest`: fresh memory filled with 0xAA so unrestored pages show. */
export function targetOf(guest: Guest, hasher: Hasher64, blocks: BlockStore = guest.blocks) {
  return { memory: new ArrayMemory(guest.memory.pageCount, 0xaa), blocks, hasher };
}

/** A temporary directory per test file; `files()` lists it, `cleanup()` removes it. */
export async function tempDir(prefix = 'leanckpt-image-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    path: (name: string) => join(dir, name),
    files: async () => (await readdir(dir)).sort(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ImageRecord {
  readonly type: number;
  readonly body: Uint8Array;
  /** File offset, for records taken from an image. */
  readonly at?: number;
}

/** Splits an image into its records, trusting its lengths (for well-formed images from the writer). */
export function splitImage(image: Uint8Array): ImageRecord[] {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const out: ImageRecord[] = [];
  for (let at = FILE_HEADER_SIZE; at < image.length;) {
    const type = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    out.push({ type, at, body: image.slice(at + REC_HEADER_SIZE, at + REC_HEADER_SIZE + length) });
    at += framedSize(length);
  }
  return out;
}

/** Builds an image from records, with a valid header and valid checksums. */
export function joinImage(
  hasher: Hasher64,
  records: readonly ImageRecord[],
  header?: Uint8Array,
): Uint8Array {
  const parts = [
    header ?? encodeFileHeader(hasher),
    ...records.map((r) => frameRecord(r.type, r.body, hasher)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
