import { closeSync, openSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adviseRandom } from '../../../backends/file/fadvise.ts';
import { FileBlockStore, ManifestError } from '../../../backends/file/file-block-store.ts';
import { SECTOR_SIZE } from '../../../core/ports.ts';
import { fillRandom, tempDir } from '../../support/image-fakes.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const SECTORS = 4096;
const content = new Uint8Array(SECTORS * SECTOR_SIZE);
let store: FileBlockStore;

beforeAll(async () => {
  tmp = await tempDir('leanckpt-file-store-');
  fillRandom(content, 5);
  writeFileSync(tmp.path('disk.img'), content);
  store = new FileBlockStore([{ id: 3, sectors: SECTORS, uuid: 'd3', file: tmp.path('disk.img') }]);
});
afterAll(async () => {
  store.close();
  await tmp.cleanup();
});

const sectors = (s: number, n: number) => content.subarray(s * SECTOR_SIZE, (s + n) * SECTOR_SIZE);

describe('FileBlockStore', () => {
  it('serves many reads in flight at once, each with its own sectors', async () => {
    const ranges = Array.from({ length: 64 }, (_, i) => [(i * 61) % (SECTORS - 40), 1 + (i % 40)] as const);
    const bufs = ranges.map(([, n]) => new Uint8Array(n * SECTOR_SIZE));
    await Promise.all(ranges.map(([s, n], i) => store.readSectors(3, s, n, bufs[i]!)));
    ranges.forEach(([s, n], i) => expect(Buffer.compare(bufs[i]!, sectors(s, n))).toBe(0));
  });

  it('refuses a read past the end of the file, naming the disk and the sector where it ended', async () => {
    const dst = new Uint8Array(16 * SECTOR_SIZE);
    const reading = store.readSectors(3, SECTORS - 8, 16, dst);
    await expect(reading).rejects.toBeInstanceOf(ManifestError);
    await expect(reading).rejects.toThrow(`disk 3: unexpected end of file at sector ${SECTORS}`);
    // The part that exists was read.
    expect(Buffer.compare(dst.subarray(0, 8 * SECTOR_SIZE), sectors(SECTORS - 8, 8))).toBe(0);
  });

  it('refuses a disk it does not have', async () => {
    await expect(store.readSectors(4, 0, 1, new Uint8Array(SECTOR_SIZE))).rejects.toThrow(
      'no disk 4 in the manifest',
    );
  });

  it('names the disk and sector when the read itself fails', async () => {
    const broken = new FileBlockStore([{ id: 7, sectors: SECTORS, uuid: 'd7', file: tmp.path('disk.img') }]);
    // Its descriptor replaced by one that is not open: the read fails with EBADF.
    const fds = (broken as unknown as { fds: Map<number, number> }).fds;
    const fd = fds.get(7)!;
    fds.set(7, 1_000_000);
    await expect(broken.readSectors(7, 100, 2, new Uint8Array(2 * SECTOR_SIZE))).rejects.toThrow(
      /^disk 7: cannot read at sector 100: EBADF/,
    );
    fds.set(7, fd);
    broken.close();
  });

  it('advises random access on its files where the platform can (Linux)', () => {
    const fd = openSync(tmp.path('disk.img'), 'r');
    try {
      expect(adviseRandom(fd)).toBe(process.platform === 'linux');
    } finally {
      closeSync(fd);
    }
  });
});
