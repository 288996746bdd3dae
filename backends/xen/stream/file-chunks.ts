/**
 * A file's bytes as chunks read into two buffers used in turn, the next chunk read while the current one
 * is looked at. A chunk stays valid until the one after it is asked for, which is what ByteSource needs
 * (it is done with a chunk when it asks for the next). A file stream would allocate every chunk anew:
 * a restore reads a 100 MB image, and under an emulated CPU the collector had to reclaim it all.
 */
import { open } from 'node:fs/promises';

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
