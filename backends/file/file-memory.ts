/**
 * Guest memory as a raw file (page pfn at byte pfn * 4096), the target of a restore to disk. Pages are
 * written where they belong, so untouched ranges stay sparse.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { PAGE_SIZE, type GuestMemory } from '../../core/ports.ts';

export class FileMemory implements GuestMemory {
  private readonly fd: number;

  constructor(
    readonly path: string,
    readonly pageCount: number,
  ) {
    this.fd = openSync(path, 'w+');
    ftruncateSync(this.fd, pageCount * PAGE_SIZE);
  }

  readPage(pfn: number, dst: Uint8Array): void {
    readSync(this.fd, dst, 0, PAGE_SIZE, pfn * PAGE_SIZE);
  }

  writePage(pfn: number, src: Uint8Array): void {
    writeSync(this.fd, src, 0, PAGE_SIZE, pfn * PAGE_SIZE);
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

/** A restore target that keeps nothing: for checking an image against its disks only. */
export class DiscardMemory implements GuestMemory {
  constructor(readonly pageCount: number) {}
  readPage(_pfn: number, dst: Uint8Array): void {
    dst.fill(0);
  }
  writePage(): void {}
}
