import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '../../../core/events/batch.ts';
import { BatchBuilder } from '../../../core/events/builder.ts';
import { batchEvents, eventAt } from '../../../core/events/to-events.ts';
import {
  BINARY_MAGIC,
  convertTrace,
  makeHeader,
  openTrace,
  traceStats,
  TraceWriter,
  validateTrace,
  type TraceBatch,
} from '../../../core/trace/index.ts';
import { readAll, realisticTrace, tempDir } from './support.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let jsonl: string;
let binary: string;
let expected: ReturnType<typeof batchEvents>;
beforeAll(async () => {
  tmp = await tempDir();
  const { header, batches } = realisticTrace({ events: 100_000, checkpointEvery: 30_000, batchSize: 10_000 });
  expected = batches.flatMap((b) => batchEvents(b));
  jsonl = tmp.path('realistic.jsonl');
  binary = tmp.path('realistic.lctrace');
  const w = await TraceWriter.create(jsonl, header);
  for (const b of batches) await w.write(b);
  await w.close();
  await convertTrace(jsonl, binary);
});
afterAll(() => tmp.cleanup());

describe('binary format', () => {
  it('is at least 5 times smaller than JSON Lines on a realistic trace', async () => {
    const j = (await stat(jsonl)).size;
    const b = (await stat(binary)).size;
    expect(j / b).toBeGreaterThanOrEqual(5);
  });

  it('starts with its magic and holds the same events', async () => {
    const head = (await readFile(binary)).subarray(0, 8);
    expect([...head]).toEqual([...BINARY_MAGIC]);
    // Back to JSON Lines: the same bytes, so the same events; and a direct look at some of them.
    const again = tmp.path('again.jsonl');
    await convertTrace(binary, again);
    expect((await readFile(again)).equals(await readFile(jsonl))).toBe(true);
    const trace = await openTrace(binary);
    let seen = 0;
    for await (const b of trace.batches) {
      for (let i = 0; i < b.length; i += 97) expect(eventAt(b, i)).toEqual(expected[seen + i]);
      seen += b.length;
    }
    expect(seen).toBe(expected.length);
  });
});

describe('batches', () => {
  it('end right after every checkpoint, and otherwise hold batchSize events', async () => {
    for (const path of [jsonl, binary]) {
      const batches: TraceBatch[] = [];
      for await (const b of (await openTrace(path, { batchSize: 7000 })).batches) batches.push(b);
      let checkpoints = 0;
      for (const b of batches.slice(0, -1)) {
        const endsInCheckpoint = b.op[b.length - 1] === Op.Checkpoint;
        // A discard line adds two events, so a batch may run one over.
        if (!endsInCheckpoint) expect(b.length === 7000 || b.length === 7001).toBe(true);
        expect(b.op.subarray(0, b.length - 1).includes(Op.Checkpoint)).toBe(false);
        if (endsInCheckpoint) checkpoints++;
      }
      expect(checkpoints).toBe(3);
    }
  });

  it('stream: the first batch arrives long before the file has been read', async () => {
    const smallChunks = tmp.path('small-chunks.lctrace');
    await convertTrace(jsonl, smallChunks, 'binary', { chunkRecords: 2000 });
    for (const path of [jsonl, smallChunks]) {
      const size = (await stat(path)).size;
      const trace = await openTrace(path, { batchSize: 500 });
      const it = trace.batches[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      const read = trace.totals().bytes;
      expect(read).toBeLessThan(Math.min(size / 2, 3 << 20));
      await it.return?.();
    }
  });

  it('can be iterated only once', async () => {
    const trace = await openTrace(binary);
    for await (const _ of trace.batches) break;
    expect(() => trace.batches[Symbol.asyncIterator]()).toThrow(/only once/);
  });
});

describe('stats and validation', () => {
  it('counts ops, sectors, segments, pages and what is in flight', async () => {
    const header = makeHeader(64, [{ id: 0, sectors: 1 << 20 }]);
    const path = tmp.path('stats.jsonl');
    const w = await TraceWriter.create(path, header);
    const b = new BatchBuilder()
      .submit(1, 'read', 0, 0, [
        [1, 0, 7],
        [2, 0, 3],
      ])
      .submit(2, 'write', 0, 100, [[3, 0, 7]])
      .complete(1, true)
      .submitDiscard(-1, 0, 8, 32)
      .complete(-1, true)
      .submitDiscard(3, 0, 800, 8)
      .complete(3, false)
      .memWrite([1, 4, 4])
      .release([5])
      .dirty([6, 1])
      .checkpoint('one');
    await w.write({ ...b.build(), t: Float64Array.from([10, 20, 30, 40, 40, NaN, 60, 70, 80, 90, 100]) });
    await w.close();
    for (const p of [path, tmp.path('stats.lctrace')]) {
      if (p !== path) await convertTrace(path, p);
      const s = await traceStats(p);
      expect(s).toMatchObject({
        records: 10,
        events: 11,
        ops: { io_submit: 3, io_complete: 2, discard: 1, mem_write: 1, release: 1, dirty: 1, checkpoint: 1 },
        reads: 1,
        writes: 1,
        discards: 2,
        failed: 1,
        sectorsRead: 12,
        sectorsWritten: 8,
        sectorsDiscarded: 40,
        segments: { fullPage: 2, subPage: 1 },
        memWritePages: 3,
        releasedPages: 1,
        dirtyPages: 2,
        pagesTouched: 6,
        checkpoints: 1,
        inFlightAtEnd: 1,
        time: { first: 10, last: 100 },
        bytesOnDisk: (await stat(p)).size,
      });
    }
    expect(await validateTrace(path)).toMatchObject({ records: 10, events: 11, checkpoints: 1, inFlight: 1 });
  });
});

describe('atomic writes', () => {
  it('shows nothing at the path until close, then the whole file; abort leaves the old file', async () => {
    const header = makeHeader(8, [{ id: 0, sectors: 64 }]);
    for (const format of ['jsonl', 'binary'] as const) {
      const path = tmp.path(`atomic-${format}`);
      await writeFile(path, 'old');
      const w = await TraceWriter.create(path, header, { format });
      await w.write(new BatchBuilder().memWrite([1, 2]).build());
      expect(await readFile(path, 'utf8')).toBe('old');
      await w.abort();
      expect(await readFile(path, 'utf8')).toBe('old');
      const w2 = await TraceWriter.create(path, header, { format });
      await w2.write(new BatchBuilder().memWrite([1, 2]).build());
      const result = await w2.close();
      expect(result).toMatchObject({ format, events: 1, bytes: (await stat(path)).size });
      expect((await readAll(path)).events).toEqual([{ op: 'mem_write', pfns: [1, 2] }]);
    }
    const left = (await readdir(tmp.path('.'))).filter((f) => f.includes('.tmp-'));
    expect(left).toEqual([]);
  });
});
