/**
 * A block store over disk files that also hands out sectors where they lie (BlockStore.viewSectors):
 * each file mapped read-only, a window of up to 1 GiB at a time, on first use. A save compares the
 * left-out pages with the disk, and a rebuild hashes them, straight from the page cache instead of
 * first copying them out; under an emulated CPU those copies were a large part of a save's system
 * time (docs/xen.md). Reads (readSectors) still go to the files, as before.
 *
 * Only for frozen disks (a stopped guest's, a copy): a file that shrinks under its mapping raises
 * SIGBUS where a view is read. Views end with close(): nothing may read one after it.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { SECTOR_SIZE, type BlockStore, type DiskIdentity } from '../../core/ports.ts';
import { mapFileWindow, type FileWindow } from './ffi/libc.ts';

/** Bytes per mapped window: a Uint8Array holds 4 GiB at most, and most reads touch one window. */
export const MAP_WINDOW = 1 << 30;

interface MappedFile {
  readonly fd: number;
  readonly size: number;
  /** Window i, null once it could not be mapped (then nothing of this file is). */
  readonly windows: (FileWindow | null | undefined)[];
}

export class MappedDiskFiles implements BlockStore {
  readonly disks: readonly DiskIdentity[];
  private readonly files = new Map<number, MappedFile>();
  private closed = false;

  /**
   * `reads` serves readSectors and its disks; `paths` are the same disks' files, by id; `windowBytes` a
   * multiple of the page size.
   */
  constructor(
    private readonly reads: BlockStore & { close(): void },
    paths: ReadonlyMap<number, string>,
    private readonly windowBytes = MAP_WINDOW,
  ) {
    this.disks = reads.disks;
    try {
      for (const [id, path] of paths) {
        const fd = openSync(path, 'r');
        this.files.set(id, { fd, size: fstatSync(fd).size, windows: [] });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    return this.reads.readSectors(disk, sector, count, dst);
  }

  viewSectors(disk: number, sector: number, count: number): Uint8Array | undefined {
    const f = this.files.get(disk);
    if (!f || this.closed || count <= 0 || sector < 0) return undefined;
    const start = sector * SECTOR_SIZE;
    const end = start + count * SECTOR_SIZE;
    if (end > f.size) return undefined;
    const size = this.windowBytes;
    const i = Math.floor(start / size);
    // A range across two windows is read instead: rare (one read in 1 GiB of disk), not worth a copy.
    if (Math.floor((end - 1) / size) !== i) return undefined;
    const w = this.window(f, i);
    return w?.bytes.subarray(start - i * size, end - i * size);
  }

  private window(f: MappedFile, i: number): FileWindow | undefined {
    const have = f.windows[i];
    if (have !== undefined) return have ?? undefined;
    if (f.windows.includes(null)) return undefined;
    try {
      const at = i * this.windowBytes;
      const w = mapFileWindow(f.fd, at, Math.min(this.windowBytes, f.size - at));
      f.windows[i] = w;
      return w;
    } catch {
      // Not mappable here (no libc through koffi, a file system without mmap): read as before.
      f.windows[i] = null;
      return undefined;
    }
  }

  close(): void {
    this.closed = true;
    for (const f of this.files.values()) {
      for (const w of f.windows) w?.unmap();
      f.windows.length = 0;
      closeSync(f.fd);
    }
    this.files.clear();
    this.reads.close();
  }
}
