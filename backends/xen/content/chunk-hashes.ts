/**
 * A disk's content hash kept up to date while the guest runs, so that a save need not read the whole
 * disk to record it. The content hash of a Xen image's disk (DISK_CHUNK_HASH, docs/image-format.md) is
 * XXH64 over the XXH64s of its 1 MiB chunks: a chunk the guest writes is hashed again, not the disk.
 *
 * Which chunks are current is decided by generations, not flags, because hashing reads the disk while
 * the guest may be writing it: a chunk's generation goes up when a write to it *completes* (its data is
 * in the file by then), and a hash counts only if the generation it started under is still the chunk's
 * when it ends. A write that completed before the read began is in what was read; one completing
 * during or after it changes the generation, and the chunk is hashed again. Submission alone proves
 * nothing: the data may land after the read.
 */
import type { Hasher64 } from '../../../core/hash.ts';

/** 1 MiB: a 256 MiB disk has 256 chunks, a 1 TiB disk a million (8 MiB of hashes). */
export const CONTENT_CHUNK_SECTORS = 2048;

/** A disk's recorded content hash: whole-file XXH64 (`chunkSectors` 0) or the chunked one. */
export interface ContentHash {
  readonly hash: bigint;
  readonly chunkSectors: number;
}

/** The chunks' own hashes, in disk order (what a restore hands the new tracking). */
export interface ChunkList {
  readonly chunkSectors: number;
  readonly chunks: BigUint64Array;
}

/** A chunked content hash with its chunks' hashes. */
export interface ChunkedContent extends ContentHash, ChunkList {}

/** The identity a block store gives a disk whose content hashes to `c`: kind and value, comparable as text. */
export const contentIdentity = (c: ContentHash): string =>
  `xxh64${c.chunkSectors === 0 ? '' : `/${c.chunkSectors}`}:${c.hash.toString(16).padStart(16, '0')}`;

export const chunkCount = (sectors: number, chunkSectors: number): number =>
  Math.ceil(sectors / chunkSectors);

/** The chunked content hash from the chunks' own hashes: XXH64 of them as little-endian u64s. */
export function digestChunks(hasher: Hasher64, chunks: BigUint64Array): bigint {
  const bytes = new Uint8Array(chunks.length * 8);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < chunks.length; i++) v.setBigUint64(i * 8, chunks[i]!, true);
  return hasher.hash64(bytes);
}

/** Reads `dst.length` bytes of the disk from `sector` (the disk's own store, as the backend serves it). */
export type ReadSectors = (sector: number, dst: Uint8Array) => Promise<void>;

export class ChunkHashes {
  readonly chunks: number;
  private readonly hashes: BigUint64Array;
  /** Bumped by every completed write or discard touching the chunk. */
  private readonly gen: Uint32Array;
  /** The generation `hashes[c]` was read under, plus one (0: never hashed). */
  private readonly hashedGen: Uint32Array;

  constructor(
    readonly sectors: number,
    readonly chunkSectors = CONTENT_CHUNK_SECTORS,
  ) {
    this.chunks = chunkCount(sectors, chunkSectors);
    this.hashes = new BigUint64Array(this.chunks);
    this.gen = new Uint32Array(this.chunks);
    this.hashedGen = new Uint32Array(this.chunks);
  }

  /** A write or discard of sectors [sector, sector + count) has completed (successfully or not). */
  written(sector: number, count: number): void {
    if (count <= 0) return;
    const first = Math.max(0, Math.floor(sector / this.chunkSectors));
    const last = Math.min(this.chunks - 1, Math.floor((sector + count - 1) / this.chunkSectors));
    for (let c = first; c <= last; c++) this.gen[c] = (this.gen[c]! + 1) >>> 0;
  }

  current(c: number): boolean {
    return this.hashedGen[c] === this.gen[c]! + 1;
  }

  /** How many chunks need hashing before the digest is known. */
  get stale(): number {
    let n = 0;
    for (let c = 0; c < this.chunks; c++) if (!this.current(c)) n++;
    return n;
  }

  /**
   * Takes the hashes of chunks nothing has written since (a restore that just hashed the disk the
   * domain has not yet used): each counts only if its chunk is still at the generation given.
   */
  seed(hashes: BigUint64Array, atGen = 0): number {
    if (hashes.length !== this.chunks) return 0;
    let n = 0;
    for (let c = 0; c < this.chunks; c++) {
      if (this.gen[c] !== atGen) continue;
      this.hashes[c] = hashes[c]!;
      this.hashedGen[c] = atGen + 1;
      n++;
    }
    return n;
  }

  /**
   * Hashes every chunk that is not current, reading through `read`; `stop()` ends it early (between
   * chunks). A chunk written meanwhile stays stale. Resolves with the number of chunks hashed.
   */
  async refresh(read: ReadSectors, hasher: Hasher64, stop: () => boolean = () => false): Promise<number> {
    const buf = new Uint8Array(this.chunkSectors * 512);
    let n = 0;
    for (let c = 0; c < this.chunks && !stop(); c++) {
      if (this.current(c)) continue;
      const g = this.gen[c]!;
      const first = c * this.chunkSectors;
      const bytes = buf.subarray(0, Math.min(this.chunkSectors, this.sectors - first) * 512);
      await read(first, bytes);
      if (this.gen[c] !== g) continue;
      this.hashes[c] = hasher.hash64(bytes);
      this.hashedGen[c] = g + 1;
      n++;
    }
    return n;
  }

  /** The content hash with a copy of the chunks' hashes, if every chunk is current. */
  digest(hasher: Hasher64): ChunkedContent | undefined {
    if (this.stale > 0) return undefined;
    const chunks = this.hashes.slice();
    return { hash: digestChunks(hasher, chunks), chunkSectors: this.chunkSectors, chunks };
  }
}
