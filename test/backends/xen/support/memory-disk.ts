/** A disk in memory, with injectable failures and an optional delay so requests really overlap. */
import type { DiskStore } from '../../../../backends/xen/blkif/ports.ts';

const SECTOR = 512;

export class MemoryDisk implements DiskStore {
  readonly bytes: Uint8Array;
  readonly failingSectors = new Set<number>();
  flushes = 0;
  /** Milliseconds each read or write takes (0: resolves on the next microtask). */
  delayMs = 0;

  constructor(
    readonly sectors: number,
    readonly readOnly = false,
  ) {
    this.bytes = new Uint8Array(sectors * SECTOR);
  }

  private async io(sector: number, count: number): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    for (let s = sector; s < sector + count; s++) {
      if (this.failingSectors.has(s)) throw new Error(`I/O error at sector ${s}`);
    }
  }

  async read(sector: number, dst: Uint8Array): Promise<void> {
    await this.io(sector, dst.length / SECTOR);
    this.readSync(sector, dst);
  }

  async write(sector: number, src: Uint8Array): Promise<void> {
    await this.io(sector, src.length / SECTOR);
    this.bytes.set(src, sector * SECTOR);
  }

  async discard(sector: number, count: number): Promise<void> {
    await this.io(sector, count);
    this.bytes.fill(0, sector * SECTOR, (sector + count) * SECTOR);
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  readSync(sector: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(sector * SECTOR, sector * SECTOR + dst.length));
  }

  async close(): Promise<void> {}
}
