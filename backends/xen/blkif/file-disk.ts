/** A raw disk image file as the disk the backend serves. */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { DiskStore } from './ports.ts';

const SECTOR = 512;
const ZEROS = new Uint8Array(1 << 20);

export class FileDisk implements DiskStore {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly sectors: number,
    readonly readOnly: boolean,
  ) {}

  static async open(path: string, readOnly = false): Promise<FileDisk> {
    const fh = await open(path, readOnly ? 'r' : 'r+');
    const { size } = await fh.stat();
    return new FileDisk(fh, path, Math.floor(size / SECTOR), readOnly);
  }

  async read(sector: number, dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.fh.read(dst, done, dst.length - done, sector * SECTOR + done);
      if (bytesRead === 0) throw new Error(`${this.path}: short read at sector ${sector}`);
      done += bytesRead;
    }
  }

  async write(sector: number, src: Uint8Array): Promise<void> {
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.fh.write(src, done, src.length - done, sector * SECTOR + done);
      done += bytesWritten;
    }
  }

  async discard(sector: number, count: number): Promise<void> {
    for (let at = 0; at < count * SECTOR; at += ZEROS.length) {
      await this.write(sector + at / SECTOR, ZEROS.subarray(0, Math.min(ZEROS.length, count * SECTOR - at)));
    }
  }

  async flush(): Promise<void> {
    await this.fh.datasync();
  }

  readSync(sector: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const n = readSync(this.fh.fd, dst, done, dst.length - done, sector * SECTOR + done);
      if (n === 0) throw new Error(`${this.path}: short read at sector ${sector}`);
      done += n;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
