/**
 * A file's bytes as chunks read into two buffers used in turn, the next chunk read while the current one
 * is looked at. A chunk stays valid until the one after it is asked for, which is what ByteSource needs
 * (it is done with a chunk when it asks for the next). A file stream would allocate every chunk anew:
 * a restore reads a 100 MB image, and under an emulated CPU the collector had to reclaim it all.
 */
import { open } from 'node:fs/promises';
import { mapFileWindow, type FileWindow } from '../ffi/libc.ts';

export async function* reusedFileChunks(path: string, size: number): AsyncGenerator<Uint8Array> {
  const file = await open(path, 'r');
  const bufs = [new Uint8Array(size), new Uint8Array(size)] as const;
  let k = 0;
  let pos = 0;
  // A read that fails while no one awaits it yet must not count as an unhandled rejection: it is
  // awaited (and thrown to the reader) when its chunk is asked for.
  const readAt = (buf: Uint8Array, at: number) => {
    const p = file.read(buf, 0, size, at);
    p.catch(() => undefined);
    return p;
  };
  let ahead = readAt(bufs[0], 0);
  try {
    for (;;) {
      const { bytesRead } = await ahead;
      if (bytesRead === 0) return;
      const chunk = bufs[k]!.subarray(0, bytesRead);
      pos += bytesRead;
      k ^= 1;
      // Into the buffer of the chunk before this one: its reader asked for this one, so it is done.
      ahead = readAt(bufs[k]!, pos);
      yield chunk;
    }
  } finally {
    // A read still under way writes into a buffer and uses the handle: let it finish first.
    await ahead.catch(() => undefined);
    await file.close();
  }
}

const MAP_ALIGN = 64 << 10;

/**
 * The same chunks as views of the file where it lies in the page cache, each chunk mapped read-only
 * (the next one mapped ahead, which has the kernel read it meanwhile if it must): a restore's image is
 * then not copied out of the page cache before it is checked and handed on. Read as reusedFileChunks
 * where the file cannot be mapped. The file must not shrink meanwhile (SIGBUS): images are replaced
 * by a rename, never rewritten in place. `size` not a multiple of 64 KiB reads too.
 */
export async function* fileChunks(path: string, size: number): AsyncGenerator<Uint8Array> {
  // Mappings start at multiples of the page size, which is 64 KiB at most on Linux.
  if (size % MAP_ALIGN !== 0) {
    yield* reusedFileChunks(path, size);
    return;
  }
  const file = await open(path, 'r');
  const windows: FileWindow[] = [];
  try {
    const total = (await file.stat()).size;
    const map = (at: number): FileWindow => mapFileWindow(file.fd, at, Math.min(size, total - at), true);
    if (total > 0) {
      try {
        windows.push(map(0));
      } catch {
        await file.close();
        yield* reusedFileChunks(path, size);
        return;
      }
    }
    for (let at = 0; at < total; at += size) {
      // windows[0] is this chunk; the one before it was let go when this one was asked for.
      if (at + size < total) windows.push(map(at + size));
      yield windows[0]!.bytes;
      windows.shift()!.unmap();
    }
  } finally {
    for (const w of windows) w.unmap();
    await file.close().catch(() => undefined);
  }
}
