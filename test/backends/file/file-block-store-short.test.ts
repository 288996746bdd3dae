import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileBlockStore } from '../../../backends/file/file-block-store.ts';
import { SECTOR_SIZE } from '../../../core/ports.ts';
import { fillRandom, tempDir } from '../../support/image-fakes.ts';

const calls = vi.hoisted(() => ({ n: 0 }));

/** fs.read that returns at most 1000 bytes per call, as a signal or a network file system may. */
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const read = (
    fd: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    position: number,
    cb: (err: NodeJS.ErrnoException | null, n: number) => void,
  ) => {
    calls.n++;
    fs.read(fd, buf, offset, Math.min(length, 1000), position, cb);
  };
  return { ...fs, default: { ...fs, read }, read };
});

let tmp: Awaited<ReturnType<typeof tempDir>>;
const content = new Uint8Array(64 * SECTOR_SIZE);

beforeAll(async () => {
  tmp = await tempDir('leanckpt-file-store-short-');
  fillRandom(content, 9);
  writeFileSync(tmp.path('disk.img'), content);
});
afterAll(() => tmp.cleanup());

describe('FileBlockStore with short reads', () => {
  it('continues each read where the last one stopped', async () => {
    const store = new FileBlockStore([{ id: 0, sectors: 64, uuid: 'd', file: tmp.path('disk.img') }]);
    try {
      const dst = new Uint8Array(24 * SECTOR_SIZE);
      calls.n = 0;
      await store.readSectors(0, 5, 24, dst);
      expect(calls.n).toBe(Math.ceil((24 * SECTOR_SIZE) / 1000));
      expect(Buffer.compare(dst, content.subarray(5 * SECTOR_SIZE, 29 * SECTOR_SIZE))).toBe(0);
    } finally {
      store.close();
    }
  });

  it('names the sector the file ended in when a short read is followed by the end', async () => {
    const store = new FileBlockStore([{ id: 0, sectors: 64, uuid: 'd', file: tmp.path('disk.img') }]);
    try {
      // 1000-byte pieces: the last piece before the end starts inside sector 63, the end is at sector 64.
      await expect(store.readSectors(0, 60, 8, new Uint8Array(8 * SECTOR_SIZE))).rejects.toThrow(
        'disk 0: unexpected end of file at sector 64',
      );
    } finally {
      store.close();
    }
  });
});
