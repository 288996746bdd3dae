/** reusedFileChunks: a file's bytes in two buffers used in turn, each chunk intact until the next is asked for. */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteSource } from '../../../../backends/xen/stream/byte-source.ts';
import { reusedFileChunks } from '../../../../backends/xen/stream/file-chunks.ts';
import { tempDir } from '../../../support/image-fakes.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => (tmp = await tempDir('leanckpt-file-chunks-')));
afterAll(() => tmp.cleanup());

describe('reusedFileChunks', () => {
  it('yields the whole file in order, in chunks of at most the size, each intact while it is looked at', async () => {
    const data = randomBytes(10_000);
    const path = tmp.path('ten-k');
    await writeFile(path, data);
    const seen: Buffer[] = [];
    const it = reusedFileChunks(path, 1024);
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      expect(next.value.length).toBeLessThanOrEqual(1024);
      const copy = Buffer.from(next.value);
      seen.push(copy);
      // The next chunk is read meanwhile, into the other buffer: this one stays as it was.
      await new Promise((r) => setTimeout(r, 2));
      expect(Buffer.compare(Buffer.from(next.value), copy)).toBe(0);
    }
    expect(seen.length).toBe(10);
    expect(Buffer.compare(Buffer.concat(seen), data)).toBe(0);
  });

  it('yields nothing for an empty file, and rejects for a missing one', async () => {
    const empty = tmp.path('empty');
    await writeFile(empty, '');
    const chunks: Uint8Array[] = [];
    for await (const c of reusedFileChunks(empty, 64)) chunks.push(c);
    expect(chunks).toEqual([]);
    await expect(reusedFileChunks(tmp.path('missing'), 64).next()).rejects.toThrow(/ENOENT/);
  });

  it('feeds a ByteSource whose exact reads return the file, whatever the read and chunk sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 20 }),
        async (size, chunk, reads) => {
          const data = randomBytes(size);
          const path = tmp.path(`prop-${size}-${chunk}`);
          await writeFile(path, data);
          const src = new ByteSource(reusedFileChunks(path, chunk));
          const got: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < size; i++) {
            const n = Math.min(reads[i % reads.length]!, size - at);
            got.push(Buffer.from(await src.read(n, 'bytes')));
            at += n;
          }
          expect(await src.atEnd()).toBe(true);
          await src.close();
          expect(Buffer.compare(Buffer.concat(got), data)).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('closes its file when the reader stops early, a read still under way included', async () => {
    const path = tmp.path('early');
    await writeFile(path, randomBytes(1 << 20));
    const it = reusedFileChunks(path, 4096);
    await it.next();
    await it.return(undefined);
    expect((await it.next()).done).toBe(true);
  });
});
