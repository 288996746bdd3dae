/**
 * A disk of seeds, held sparsely in chunks allocated on first write (untouched chunks are their
 * initial content), with copy-on-write snapshots: a snapshot costs one array of chunk references and
 * a chunk is copied only when the live disk next writes it.
 */
import { initialSeed } from './seeds.ts';

// Sectors go beyond 2^32, so chunk arithmetic uses division, not shifts.
const CHUNK = 1 << 16;

export class SymbolicDisk {
  private chunks: (Float64Array | undefined)[];
  private shared: Uint8Array;

  constructor(
    readonly index: number,
    readonly sectors: number,
  ) {
    const n = Math.ceil(sectors / CHUNK);
    this.chunks = new Array<Float64Array | undefined>(n);
    this.shared = new Uint8Array(n);
  }

  get(sector: number): number {
    const c = this.chunks[Math.floor(sector / CHUNK)];
    return c ? c[sector % CHUNK]! : initialSeed(this.index, sector);
  }

  set(sector: number, seed: number): void {
    this.writable(Math.floor(sector / CHUNK))[sector % CHUNK] = seed;
  }

  /** A frozen view of the disk as it is now. */
  snapshot(): FrozenDisk {
    this.shared.fill(1);
    return new FrozenDisk(this.index, this.sectors, this.chunks.slice());
  }

  /**
   * Sector ranges [from, to) that were ever written, as runs of whole chunks: every sector outside
   * them still holds its initial seed.
   */
  writtenRuns(): { from: number; to: number }[] {
    const runs: { from: number; to: number }[] = [];
    for (let k = 0; k < this.chunks.length; k++) {
      if (!this.chunks[k]) continue;
      const from = k * CHUNK;
      const to = Math.min(this.sectors, from + CHUNK);
      const last = runs[runs.length - 1];
      if (last && last.to === from) last.to = to;
      else runs.push({ from, to });
    }
    return runs;
  }

  /** Bytes held by allocated chunks. */
  get byteLength(): number {
    return this.chunks.reduce((n, c) => n + (c?.byteLength ?? 0), 0);
  }

  private writable(k: number): Float64Array {
    let c = this.chunks[k];
    if (!c) {
      c = new Float64Array(CHUNK);
      const base = k * CHUNK;
      for (let i = 0; i < CHUNK; i++) c[i] = initialSeed(this.index, base + i);
      this.chunks[k] = c;
    } else if (this.shared[k]) {
      c = c.slice();
      this.chunks[k] = c;
    }
    this.shared[k] = 0;
    return c;
  }
}

/** A disk's seeds at one moment. Never changes. */
export class FrozenDisk {
  constructor(
    readonly index: number,
    readonly sectors: number,
    private readonly chunks: readonly (Float64Array | undefined)[],
  ) {}

  get(sector: number): number {
    const c = this.chunks[Math.floor(sector / CHUNK)];
    return c ? c[sector % CHUNK]! : initialSeed(this.index, sector);
  }

  /** Copies seeds of sectors [sector, sector+count) into dst[0..count). */
  read(sector: number, count: number, dst: Float64Array): void {
    for (let i = 0; i < count; i++) dst[i] = this.get(sector + i);
  }
}
