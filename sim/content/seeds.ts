/**
 * Symbolic content. Every 512 B sector of guest memory or disk holds a *seed*, a number that stands for
 * its bytes; bytes are materialised only when an image is written or verified. A 16 GiB guest is then
 * 256 MiB of seeds instead of 16 GiB of bytes.
 *
 *   seed 0        all-zero bytes (fresh guest memory)
 *   seed > 0      content #seed, produced once (a CPU write, torn I/O): unique
 *   seed < 0      the initial content of disk index k, sector s: -(1 + k * 2^36 + s)
 *
 * Materialised sectors of different seeds differ in their first 8 bytes, so no two distinct contents
 * are ever equal, not even one sector apart: any wrong mapping shows.
 */
import { SECTOR_SIZE } from '../../core/ports.ts';

export const MAX_DISK_SECTORS = 2 ** 36;
export const MAX_DISKS = 2 ** 12;

export function initialSeed(diskIndex: number, sector: number): number {
  return -(1 + diskIndex * MAX_DISK_SECTORS + sector);
}

/** The (disk index, sector) whose initial content `seed` is, or undefined for any other seed. */
export function initialPlace(seed: number): { diskIndex: number; sector: number } | undefined {
  if (seed >= 0) return undefined;
  const u = -seed - 1;
  return { diskIndex: Math.floor(u / MAX_DISK_SECTORS), sector: u % MAX_DISK_SECTORS };
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const WORDS = SECTOR_SIZE / 4;

/** Pseudo-random words every non-zero sector is built from, behind its own first 16 bytes. */
const TEMPLATE = new Uint32Array(WORDS).map((_, w) => mix32(0x9e3779b9 * (w + 1)));

/**
 * Writes the 512 bytes that `seed` stands for into `dst` at word offset `word` (4-byte aligned): the
 * seed and its mix in the first 16 bytes, then a shared pseudo-random template, copied natively.
 * Materialising is what replaying a large guest spends its time on (all of a 16 GiB guest's memory
 * is read for the image and again for the verification), and a per-word loop ran at 0.16 GB/s.
 */
export function materializeSector(seed: number, dst: Uint32Array, word: number): void {
  if (seed === 0) {
    dst.fill(0, word, word + WORDS);
    return;
  }
  // Fold the sign in so positive and negative seeds never collide; u < 2^50.
  const u = seed < 0 ? -seed * 2 + 1 : seed * 2;
  const lo = u >>> 0;
  const hi = Math.floor(u / 4294967296);
  const base = mix32(lo ^ mix32(hi + 0x3c6ef372));
  dst.set(TEMPLATE, word);
  dst[word] = lo;
  dst[word + 1] = (hi | 0x80000000) >>> 0; // the marker bit: never all zero
  dst[word + 2] = base;
  dst[word + 3] = mix32(base);
}

/** Materialises `count` sectors of seeds from `seeds[from..]` into `dst` (count * 512 bytes). */
export function materialize(seeds: Float64Array, from: number, count: number, dst: Uint8Array): void {
  if (dst.byteOffset % 4 !== 0) throw new RangeError('materialize needs a 4-byte aligned buffer');
  const words = new Uint32Array(dst.buffer, dst.byteOffset, count * WORDS);
  for (let i = 0; i < count; i++) materializeSector(seeds[from + i]!, words, i * WORDS);
}

/** Hands out seeds never used before. */
export class SeedSource {
  private next = 1;

  fresh(): number {
    return this.next++;
  }

  /** Fills seeds[from .. from+count) with fresh seeds. */
  fill(seeds: Float64Array, from: number, count: number): void {
    for (let i = 0; i < count; i++) seeds[from + i] = this.next++;
  }
}
