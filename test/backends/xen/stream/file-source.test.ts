/** GrowingFileSource: the save stream read from the file xl is still writing, exactly as written. */
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamFormatError } from '../../../../backends/xen/stream/errors.ts';
import { GrowingFileSource } from '../../../../backends/xen/stream/file-source.ts';
import { SaveStreamParser } from '../../../../backends/xen/stream/parser.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { randomPage, streamBytes } from '../fixtures/stream-fixture.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => (tmp = await tempDir('leanckpt-file-source-')));
afterAll(() => tmp.cleanup());

const input = streamBytes({
  guest: 'pv',
  pages: 24,
  batch: 8,
  content: (pfn) => (pfn % 3 === 0 ? new Uint8Array(4096) : randomPage(pfn)),
  checkpoints: 1,
  optionalRecords: true,
});

/** Appends `bytes` to `path` in pieces of `piece` bytes with pauses; `done` turns true at the end. */
async function writeSlowly(path: string, bytes: Uint8Array, piece: number, state: { done: boolean }) {
  const f = await open(path, 'a');
  for (let at = 0; at < bytes.length; at += piece) {
    await f.write(bytes, at, Math.min(piece, bytes.length - at));
    await new Promise((r) => setTimeout(r, 1));
  }
  await f.close();
  state.done = true;
}

let grown = 0;

/**
 * Parses `bytes` from a file a writer appends them to in pieces of `piece` bytes: what the parser gave
 * back (bytes and pages, in order), how many page batches, and how many file reads the source made.
 */
async function parseGrowing(bytes: Uint8Array, piece: number) {
  const path = tmp.path(`grow-${grown++}`);
  await writeFile(path, new Uint8Array(0));
  const state = { done: false };
  const writing = writeSlowly(path, bytes, piece, state);
  const file = await open(path, 'r');
  let reads = 0;
  const counted = {
    read: (...args: Parameters<FileHandle['read']>) => (reads++, file.read(...args)),
  } as unknown as FileHandle;
  const parts: Uint8Array[] = [];
  let batches = 0;
  try {
    for await (const e of new SaveStreamParser(new GrowingFileSource(counted, () => state.done)).events()) {
      parts.push(e.kind === 'bytes' ? e.bytes.slice() : e.batch.data.slice());
      if (e.kind === 'pages') batches++;
    }
  } finally {
    await writing;
    await file.close();
  }
  return { parsed: Buffer.concat(parts), batches, reads };
}

describe('GrowingFileSource', () => {
  it('parses a stream that grows in odd pieces into exactly its bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1000, max: 70_000 }), async (piece) => {
        expect(Buffer.compare((await parseGrowing(input, piece)).parsed, input)).toBe(0);
      }),
      { numRuns: 8 },
    );
  });

  it('reads an HVM stream with holes, in large and small records, exactly, with few file reads', async () => {
    // As a PVH guest's: most pfns are holes (XTAB, no page), so most PAGE_DATA records carry none,
    // and the records with pages are larger than the read-ahead serves (64 pages: 256 KiB).
    const hvm = streamBytes({
      guest: 'hvm',
      pages: 64 * 40,
      batch: 64,
      content: (pfn) => randomPage(pfn),
      type: (pfn) => (pfn % 640 < 64 ? 0 : 0xf),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1000, max: 300_000 }), async (piece) => {
        const { parsed, batches, reads } = await parseGrowing(hvm, piece);
        expect(Buffer.compare(parsed, hvm)).toBe(0);
        expect(batches).toBe(4);
        if (piece > 200_000) expect(reads).toBeLessThan(60); // 40 PAGE_DATA records, 3 reads each before
      }),
      { numRuns: 8, examples: [[250_000], [1000]] },
    );
  });

  it('reports a stream its writer left unfinished as truncated, naming where', async () => {
    const path = tmp.path('short');
    await writeFile(path, input.subarray(0, 5000));
    const file = await open(path, 'r');
    const err = await (async () => {
      for await (const _ of new SaveStreamParser(new GrowingFileSource(file, () => true)).events());
    })().catch((e: unknown) => e);
    await file.close();
    expect(err).toBeInstanceOf(StreamFormatError);
    expect((err as Error).message).toMatch(/^Save stream truncated in .* at offset \d+/);
  });

  it('is at its end only once the writer has finished and every byte is read', async () => {
    const path = tmp.path('end');
    await writeFile(path, Uint8Array.of(1, 2, 3));
    const file = await open(path, 'r');
    const state = { done: false };
    const src = new GrowingFileSource(file, () => state.done);
    expect(await src.atEnd()).toBe(false);
    expect([...(await src.read(3, 'test'))]).toEqual([1, 2, 3]);
    const end = src.atEnd();
    setTimeout(() => (state.done = true), 50);
    expect(await end).toBe(true);
    await file.close();
  });

  it('waits longer each time while a read stays short, and counts its waits', async () => {
    // The writer adds a byte every 5 ms for about 300 ms; the reader needs all 60. Looking every
    // 10 ms would take some 30 looks; waits that double up to 80 ms take about 7.
    const path = tmp.path('backoff');
    await writeFile(path, new Uint8Array(0));
    const state = { done: false };
    const writing = (async () => {
      const f = await open(path, 'a');
      for (let i = 0; i < 60; i++) {
        await f.write(Uint8Array.of(i));
        await new Promise((r) => setTimeout(r, 5));
      }
      await f.close();
      state.done = true;
    })();
    const file = await open(path, 'r');
    const src = new GrowingFileSource(file, () => state.done);
    const got = await src.read(60, 'test');
    expect([...got]).toEqual(Array.from({ length: 60 }, (_, i) => i));
    await writing;
    await file.close();
    expect(src.waits).toBeGreaterThan(2);
    expect(src.waits).toBeLessThan(15);
  });
});
