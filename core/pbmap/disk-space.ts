/**
 * Lays the guest's disks end to end in one "global sector" number line, so the map and its reverse
 * index key on a single number. Disks stay independent: each starts 8-aligned after a gap of at least
 * one page, and a mapping never crosses its disk's end, so no range of one disk overlaps another's.
 */
import { EventError } from '../errors.ts';
import { SECTORS_PER_PAGE, type DiskGeometry } from '../ports.ts';

export class DiskSpace {
  private readonly index = new Map<number, number>();
  private readonly bases: number[] = [];
  private readonly sizes: number[] = [];
  readonly ids: readonly number[];

  constructor(disks: readonly DiskGeometry[]) {
    let base = 0;
    for (const d of disks) {
      if (this.index.has(d.id)) throw new EventError(`disk ${d.id} is declared twice`);
      if (!Number.isSafeInteger(d.sectors) || d.sectors < 0) {
        throw new EventError(`disk ${d.id}: bad size ${d.sectors} sectors`);
      }
      this.index.set(d.id, this.bases.length);
      this.bases.push(base);
      this.sizes.push(d.sectors);
      base += Math.ceil(d.sectors / SECTORS_PER_PAGE) * SECTORS_PER_PAGE + SECTORS_PER_PAGE;
    }
    if (!Number.isSafeInteger(base)) throw new EventError('disks too large for one sector space');
    this.ids = disks.map((d) => d.id);
  }

  /** The global sector of (disk, sector), checking that `count` sectors from there fit in the disk. */
  toGlobal(disk: number, sector: number, count: number): number {
    const k = this.index.get(disk);
    if (k === undefined) throw new EventError(`unknown disk ${disk}`);
    const size = this.sizes[k]!;
    if (!Number.isSafeInteger(sector) || sector < 0 || count < 0 || sector + count > size) {
      throw new EventError(`disk ${disk}: sectors ${sector}..${sector + count - 1} outside 0..${size - 1}`);
    }
    return this.bases[k]! + sector;
  }

  /** The (disk, sector) of a global sector that toGlobal produced. */
  fromGlobal(global: number): { disk: number; sector: number } {
    // Few disks per guest: a linear scan from the top is simplest and fast enough.
    for (let k = this.bases.length - 1; k >= 0; k--) {
      if (global >= this.bases[k]!) return { disk: this.ids[k]!, sector: global - this.bases[k]! };
    }
    throw new RangeError(`global sector ${global} is below every disk`);
  }

  /** Disk index (position in `ids`) of a global sector. */
  diskIndexOf(global: number): number {
    for (let k = this.bases.length - 1; k >= 0; k--) if (global >= this.bases[k]!) return k;
    throw new RangeError(`global sector ${global} is below every disk`);
  }

  baseOf(diskIndex: number): number {
    return this.bases[diskIndex]!;
  }
}
