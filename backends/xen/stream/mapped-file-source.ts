/**
 * The save stream read where `xl save` wrote it, in the page cache: the file is mapped read-only, a
 * window at a time, and each read is a view of the mapping. GrowingFileSource copies every byte out of
 * the file first, and under an emulated CPU copying the 269 MB stream of a 256 MiB guest was a large
 * part of a save's system time (docs/xen.md). Same contract: a returned view is valid until the next
 * read, and a read waits while the writer has not written its bytes yet.
 *
 * Only bytes the file is known to hold (fstat) are ever looked at: a mapping reaches past the end of a
 * growing file, and reading a page there would raise SIGBUS. The file must not shrink meanwhile, which
 * a file only `xl save` writes, appending, never does.
 */
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mapFileWindow, type FileWindow } from '../ffi/libc.ts';
import { SOME_MAX, truncated, WAIT_MAX_MS, WAIT_MS, type StreamSource } from './file-source.ts';

/** Where windows start: every 64 MiB of the file. */
export const SOURCE_WINDOW = 64 << 20;
/**
 * How far a window reaches past the next one's start, so that a read of up to this much starting
 * anywhere in it is one view (a PAGE_DATA record is at most 4 MiB and its headers). Longer reads copy.
 */
export const SOURCE_OVERLAP = 16 << 20;

export class MappedFileSource implements StreamSource {
  offset = 0;
  /** How many times a read waited for the writer (reported by `xen save`). */
  waits = 0;
  /** Bytes the file held when last looked at. */
  private known = 0;
  private window: FileWindow | undefined;
  private windowAt = 0;
  /** For a read longer than SOURCE_OVERLAP. */
  private long = new Uint8Array(0);

  private constructor(
    private readonly file: FileHandle,
    private readonly finished: () => boolean,
    private readonly windowBytes: number,
    private readonly overlap: number,
  ) {}

  /**
   * A source over `file` (see GrowingFileSource for `finished`), or undefined where it cannot be mapped
   * (no libc through koffi, a file system without mmap): read it with GrowingFileSource then.
   * `windowBytes` is a multiple of the page size.
   */
  static open(
    file: FileHandle,
    finished: () => boolean,
    windowBytes = SOURCE_WINDOW,
    overlap = SOURCE_OVERLAP,
  ): MappedFileSource | undefined {
    const s = new MappedFileSource(file, finished, windowBytes, overlap);
    try {
      s.moveTo(0);
    } catch {
      return undefined;
    }
    return s;
  }

  async read(n: number, what: string): Promise<Uint8Array> {
    await this.available(n, n, what);
    return this.take(n);
  }

  async readSome(max: number, what: string): Promise<Uint8Array> {
    const want = Math.min(max, SOME_MAX);
    return this.take(Math.min(want, await this.available(want, 1, what)));
  }

  async atEnd(): Promise<boolean> {
    return (await this.available(1, 0, 'the end')) === 0;
  }

  async close(): Promise<void> {
    // The file belongs to the caller, who closes it; the mapping is this source's.
    this.window?.unmap();
    this.window = undefined;
  }

  /**
   * Bytes the file holds past the offset, once at least `min` (0: or the writer has finished); `want`
   * is enough not to look again. A finished writer with fewer than `min` bytes written is a truncated
   * stream. Waits between looks double (see GrowingFileSource).
   */
  private async available(want: number, min: number, what: string): Promise<number> {
    for (let wait = WAIT_MS; ; wait = Math.min(2 * wait, WAIT_MAX_MS)) {
      if (this.known - this.offset >= want) return this.known - this.offset;
      // Checked before looking: a look after the writer finished sees all it wrote.
      const last = this.finished();
      this.known = fstatSync(this.file.fd).size;
      const have = this.known - this.offset;
      if (have >= Math.max(min, 1) || (min === 0 && last)) return have;
      if (last) throw truncated(what, this.offset, min, have);
      this.waits++;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The next `n` bytes, all of them in the file already. */
  private async take(n: number): Promise<Uint8Array> {
    const at = this.offset;
    this.offset += n;
    if (n > this.overlap) return this.copy(at, n);
    if (!this.window || at < this.windowAt || at + n > this.windowAt + this.windowBytes + this.overlap) {
      this.moveTo(at);
    }
    return this.window!.bytes.subarray(at - this.windowAt, at - this.windowAt + n);
  }

  /** Maps the window that `at` starts in, and lets the previous one go (its views are done with). */
  private moveTo(at: number): void {
    const base = at - (at % this.windowBytes);
    const w = mapFileWindow(this.file.fd, base, this.windowBytes + this.overlap);
    this.window?.unmap();
    this.window = w;
    this.windowAt = base;
  }

  private async copy(at: number, n: number): Promise<Uint8Array> {
    if (this.long.length < n) this.long = new Uint8Array(n);
    const out = this.long.subarray(0, n);
    for (let got = 0; got < n;) {
      const { bytesRead } = await this.file.read(out, got, n - got, at + got);
      if (bytesRead === 0) throw truncated('a long read', at, n, got);
      got += bytesRead;
    }
    return out;
  }
}
