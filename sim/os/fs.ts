/**
 * Disk layout and the file system: partitions, a block allocation bitmap, files as extent lists, and
 * the metadata blocks (bitmaps, inode tables / MFT records, directories) each file's operations touch.
 * Everything is typed arrays: a byte per block for the bitmap, a handful of Int32 per file and extent.
 * The page cache keys pages by the disk block that starts them (see pageKey).
 */
import type { FsParams } from './params.ts';

const SECTOR = 512;
const PAGE = 4096;

export interface DiskLayout {
  /** Disk size in sectors. */
  readonly sectors: number;
  readonly fsStart: number;
  readonly fsSectors: number;
  /** Swap area (a partition, or the sectors of the preallocated swap file); 0 sectors when none. */
  readonly swapStart: number;
  readonly swapSectors: number;
}

/**
 * Partitions the disk: the file system from `partitionStart`, then (swap partition) the swap partition,
 * aligned like the first: to 1 MiB in an aligned layout, to the next cylinder + 63 in a DOS layout.
 */
export function diskLayout(diskBytes: number, swapBytes: number, fs: FsParams): DiskLayout {
  const sectors = Math.floor(diskBytes / SECTOR);
  const start = fs.partitionStart;
  const swapSectors = fs.swap === 'partition' ? Math.floor(swapBytes / PAGE) * 8 : 0;
  if (swapSectors === 0) {
    return { sectors, fsStart: start, fsSectors: sectors - start, swapStart: 0, swapSectors: 0 };
  }
  const aligned = start % 8 === 0;
  const fsSectors = sectors - start - swapSectors - (aligned ? 2048 : 16065 + 63);
  const end = start + fsSectors;
  const swapStart = aligned ? Math.ceil(end / 2048) * 2048 : Math.ceil(end / 16065) * 16065 + 63;
  if (fsSectors < 64 * 1024 || swapStart + swapSectors > sectors) {
    throw new RangeError(`a ${diskBytes} byte disk is too small for ${swapBytes} bytes of swap`);
  }
  return { sectors, fsStart: start, fsSectors, swapStart, swapSectors };
}

export const FileFlag = { Alive: 1, Image: 2, Resident: 4 } as const;

function grown<T extends Int32Array | Float64Array | Uint8Array>(a: T, need: number, fill = 0): T {
  if (need <= a.length) return a;
  let n = Math.max(64, a.length * 2);
  while (n < need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

export class FileSystem {
  readonly blockSize: number;
  /** Sectors per block, blocks per page. */
  readonly spb: number;
  readonly bpp: number;
  /** First sector of the partition. */
  readonly start: number;
  readonly blocks: number;
  private readonly inodeBytesPerFile: number;
  readonly bitmapBlocks: number;
  readonly inodeBlocks: number;
  readonly dirBlocks: number;
  /** Metadata occupies blocks [0, metaBlocks); the journal [journalStart, journalStart + journalBlocks). */
  readonly metaBlocks: number;
  readonly journalStart: number;
  readonly journalBlocks: number;
  /** Allocation bitmap, a byte per block. */
  readonly used: Uint8Array;
  freeBlocks: number;
  private cursor: number;

  // Files, indexed by id.
  private fExt = new Int32Array(0);
  private fLastExt = new Int32Array(0);
  private fCurExt = new Int32Array(0);
  private fCurBase = new Int32Array(0);
  /** Size in bytes, in blocks, in pages. */
  fBytes = new Float64Array(0);
  fBlocks = new Int32Array(0);
  fPages = new Int32Array(0);
  fFlags = new Uint8Array(0);
  /** Readahead state: the page a sequential reader would read next, and the current window. */
  raNext = new Int32Array(0);
  raWin = new Int32Array(0);
  private fileTop = 0;
  private freeIds = new Int32Array(64);
  private nFreeIds = 0;
  liveFiles = 0;

  // Extents: start block, length in blocks, next extent of the same file (-1 at the end).
  private eStart = new Int32Array(0);
  private eLen = new Int32Array(0);
  private eNext = new Int32Array(0);
  private extTop = 0;
  private freeExt = -1;

  // pageKey's further results (no allocation per call).
  /** Blocks in the page just looked up, whether they are consecutive on disk, and each one's block. */
  pgBlocks = 0;
  pgContig = true;
  readonly pgPhys: Int32Array;

  constructor(p: FsParams, start: number, sectors: number) {
    this.blockSize = p.blockSize;
    this.spb = p.blockSize / SECTOR;
    this.bpp = PAGE / p.blockSize;
    this.start = start;
    this.blocks = Math.floor(sectors / this.spb);
    this.pgPhys = new Int32Array(this.bpp);
    this.inodeBytesPerFile = p.inodeBytes;
    const bpp = this.bpp;
    const roundUp = (n: number): number => Math.ceil(n / bpp) * bpp;
    this.bitmapBlocks = roundUp(Math.ceil(this.blocks / (p.blockSize * 8)));
    const meta = roundUp(Math.max(64, Math.round(this.blocks * p.metaFraction)));
    this.inodeBlocks = roundUp(Math.floor((meta - this.bitmapBlocks) * 0.7));
    this.dirBlocks = Math.max(bpp, meta - this.bitmapBlocks - this.inodeBlocks);
    this.metaBlocks = this.bitmapBlocks + this.inodeBlocks + this.dirBlocks;
    this.journalStart = this.metaBlocks;
    this.journalBlocks = roundUp(
      Math.min(Math.floor(p.journalBytes / p.blockSize), Math.floor(this.blocks / 32)),
    );
    this.used = new Uint8Array(this.blocks);
    const reserved = this.journalStart + this.journalBlocks;
    this.used.fill(1, 0, reserved);
    this.freeBlocks = this.blocks - reserved;
    this.cursor = reserved;
  }

  get byteLength(): number {
    return (
      this.used.byteLength +
      this.fExt.byteLength * 8 +
      this.fBytes.byteLength +
      this.fFlags.byteLength +
      this.eStart.byteLength * 3
    );
  }

  /** First disk sector of block `b`. */
  sectorOf(b: number): number {
    return this.start + b * this.spb;
  }

  inodeBlock(f: number): number {
    return this.bitmapBlocks + (Math.floor((f * this.inodeBytesPerFile) / this.blockSize) % this.inodeBlocks);
  }

  dirBlock(f: number): number {
    return this.bitmapBlocks + this.inodeBlocks + (Math.floor(f / 32) % this.dirBlocks);
  }

  bitmapBlock(b: number): number {
    return Math.floor(b / (this.blockSize * 8)) % this.bitmapBlocks;
  }

  alive(f: number): boolean {
    return f >= 0 && f < this.fileTop && (this.fFlags[f]! & FileFlag.Alive) !== 0;
  }

  /** A new, empty file. */
  newFile(flags: number): number {
    let f: number;
    if (this.nFreeIds > 0) f = this.freeIds[--this.nFreeIds]!;
    else {
      f = this.fileTop++;
      const n = this.fileTop;
      this.fExt = grown(this.fExt, n);
      this.fLastExt = grown(this.fLastExt, n);
      this.fCurExt = grown(this.fCurExt, n);
      this.fCurBase = grown(this.fCurBase, n);
      this.fBytes = grown(this.fBytes, n);
      this.fBlocks = grown(this.fBlocks, n);
      this.fPages = grown(this.fPages, n);
      this.fFlags = grown(this.fFlags, n);
      this.raNext = grown(this.raNext, n);
      this.raWin = grown(this.raWin, n);
    }
    this.fExt[f] = -1;
    this.fLastExt[f] = -1;
    this.fCurExt[f] = -1;
    this.fCurBase[f] = 0;
    this.fBytes[f] = 0;
    this.fBlocks[f] = 0;
    this.fPages[f] = 0;
    this.fFlags[f] = flags | FileFlag.Alive;
    this.raNext[f] = -1;
    this.raWin[f] = 0;
    this.liveFiles++;
    return f;
  }

  /**
   * Grows file `f` to `bytes`, allocating blocks next-fit from the allocation cursor; `gap` free blocks
   * are skipped after the new extents (to age a freshly made file system). Resident files get no blocks.
   * When the disk is full the file ends where the space did. Returns the blocks added.
   */
  grow(f: number, bytes: number, gap = 0): number {
    if (bytes <= this.fBytes[f]!) return 0;
    const resident = (this.fFlags[f]! & FileFlag.Resident) !== 0;
    const want = resident ? 0 : Math.ceil(bytes / this.blockSize);
    let need = want - this.fBlocks[f]!;
    let added = 0;
    while (need > 0 && this.freeBlocks > 0) {
      let b = this.used.indexOf(0, this.cursor);
      if (b < 0) b = this.used.indexOf(0);
      if (b < 0) break;
      let e = b + 1;
      const limit = Math.min(this.blocks, b + need);
      while (e < limit && this.used[e] === 0) e++;
      this.used.fill(1, b, e);
      const len = e - b;
      this.addExtent(f, b, len);
      this.freeBlocks -= len;
      need -= len;
      added += len;
      this.cursor = e;
    }
    if (gap > 0) this.cursor = Math.min(this.blocks - 1, this.cursor + gap);
    const blocks = this.fBlocks[f]! + added;
    this.fBlocks[f] = blocks;
    this.fBytes[f] = resident ? bytes : Math.min(bytes, blocks * this.blockSize);
    this.fPages[f] = resident ? 0 : Math.ceil(blocks / this.bpp);
    return added;
  }

  private addExtent(f: number, b: number, len: number): void {
    const last = this.fLastExt[f]!;
    if (last >= 0 && this.eStart[last]! + this.eLen[last]! === b) {
      this.eLen[last]! += len;
      return;
    }
    let e: number;
    if (this.freeExt >= 0) {
      e = this.freeExt;
      this.freeExt = this.eNext[e]!;
    } else {
      e = this.extTop++;
      this.eStart = grown(this.eStart, this.extTop);
      this.eLen = grown(this.eLen, this.extTop);
      this.eNext = grown(this.eNext, this.extTop);
    }
    this.eStart[e] = b;
    this.eLen[e] = len;
    this.eNext[e] = -1;
    if (last >= 0) this.eNext[last] = e;
    else this.fExt[f] = e;
    this.fLastExt[f] = e;
  }

  /** The extents the last remove() freed: start block and length, [0, nFreed). */
  freedStart = new Int32Array(16);
  freedLen = new Int32Array(16);
  nFreed = 0;

  /** Deletes file `f`: frees its blocks (listed in freedStart/freedLen) and its id. */
  remove(f: number): void {
    this.nFreed = 0;
    let e = this.fExt[f]!;
    while (e >= 0) {
      const s = this.eStart[e]!;
      const len = this.eLen[e]!;
      this.used.fill(0, s, s + len);
      this.freeBlocks += len;
      if (this.nFreed === this.freedStart.length) {
        this.freedStart = grown(this.freedStart, this.nFreed + 1);
        this.freedLen = grown(this.freedLen, this.nFreed + 1);
      }
      this.freedStart[this.nFreed] = s;
      this.freedLen[this.nFreed++] = len;
      const n = this.eNext[e]!;
      this.eNext[e] = this.freeExt;
      this.freeExt = e;
      e = n;
    }
    this.fFlags[f] = 0;
    this.fExt[f] = -1;
    this.fLastExt[f] = -1;
    this.fBlocks[f] = 0;
    this.fPages[f] = 0;
    this.fBytes[f] = 0;
    this.liveFiles--;
    if (this.nFreeIds === this.freeIds.length) this.freeIds = grown(this.freeIds, this.nFreeIds + 1);
    this.freeIds[this.nFreeIds++] = f;
  }

  /** Disk block of logical block `l` of file `f` (sequential lookups are O(1)). */
  phys(f: number, l: number): number {
    let e = this.fCurExt[f]!;
    let base = this.fCurBase[f]!;
    if (e < 0 || l < base) {
      e = this.fExt[f]!;
      base = 0;
    }
    while (e >= 0 && l >= base + this.eLen[e]!) {
      base += this.eLen[e]!;
      e = this.eNext[e]!;
    }
    if (e < 0) throw new RangeError(`block ${l} beyond file ${f}`);
    this.fCurExt[f] = e;
    this.fCurBase[f] = base;
    return this.eStart[e]! + (l - base);
  }

  /**
   * The page cache key of page `i` of file `f`: the disk block holding the page's first bytes. Also sets
   * pgBlocks (blocks in the page: fewer in a partial last page), pgContig and pgPhys.
   */
  pageKey(f: number, i: number): number {
    const bpp = this.bpp;
    if (bpp === 1) {
      const b = this.phys(f, i);
      this.pgBlocks = 1;
      this.pgContig = true;
      this.pgPhys[0] = b;
      return b;
    }
    const l0 = i * bpp;
    const nb = Math.min(bpp, this.fBlocks[f]! - l0);
    const p0 = this.phys(f, l0);
    this.pgPhys[0] = p0;
    let contig = true;
    for (let j = 1; j < nb; j++) {
      const p = this.phys(f, l0 + j);
      this.pgPhys[j] = p;
      if (p !== p0 + j) contig = false;
    }
    this.pgBlocks = nb;
    this.pgContig = contig;
    return p0;
  }

  /**
   * Reserves `blocks` consecutive blocks at the end of the file system (a preallocated swap file);
   * returns the first block.
   */
  reserveTail(blocks: number): number {
    const first = this.blocks - blocks;
    if (first <= this.journalStart + this.journalBlocks)
      throw new RangeError('file system too small for its swap file');
    this.used.fill(1, first, this.blocks);
    this.freeBlocks -= blocks;
    return first;
  }
}
