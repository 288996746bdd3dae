/** Stream FIFOs get a large pipe: xl's records are megabytes, Linux's default pipe 64 KiB. */
import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { growPipe, pipeCapacity } from '../../../backends/xen/ffi/libc.ts';
import { growStreamPipe, makeFifo, STREAM_PIPE_BYTES } from '../../../backends/xen/xl-process.ts';
import { tempDir } from '../../support/image-fakes.ts';

const tmp = await tempDir('leanckpt-pipe-');
afterAll(() => tmp.cleanup());
const maxSize = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));

/** Both ends of a fresh FIFO in one descriptor (Linux allows O_RDWR on a FIFO without blocking). */
async function fifo(name: string) {
  const path = tmp.path(name);
  await makeFifo(path);
  return open(path, constants.O_RDWR);
}

describe('stream pipes', () => {
  it('grow to STREAM_PIPE_BYTES, or to the most an unprivileged process may', async () => {
    const h = await fifo('a');
    try {
      expect(pipeCapacity(h.fd)).toBe(64 * 1024);
      const got = growStreamPipe(h.fd);
      expect(got).toBe(pipeCapacity(h.fd));
      expect(got).toBeGreaterThanOrEqual(Math.min(STREAM_PIPE_BYTES, maxSize));
      // What the capacity means: that much is written with no reader, without blocking.
      const { bytesWritten } = await h.write(new Uint8Array(got));
      expect(bytesWritten).toBe(got);
    } finally {
      await h.close();
    }
  });

  it('never shrink a pipe', async () => {
    const h = await fifo('b');
    try {
      const big = growPipe(h.fd, Math.min(1 << 20, maxSize));
      expect(growPipe(h.fd, 128 * 1024)).toBe(big);
    } finally {
      await h.close();
    }
  });
});
