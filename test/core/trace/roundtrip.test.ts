import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuestEvent, Segment } from '../../../core/events/batch.ts';
import { BatchBuilder } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import {
  convertTrace,
  makeHeader,
  openTrace,
  readTrace,
  TraceWriter,
  type TraceBatch,
  type TraceFormat,
  type TraceHeader,
} from '../../../core/trace/index.ts';
import { readAll, tempDir } from './support.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

const PAGES = 48;
const DISKS = [
  { id: 0, sectors: 4096 },
  { id: 7, sectors: 300 },
];
const HEADER = makeHeader(PAGES, DISKS, { test: 'roundtrip', nested: { a: [1, 'x'] } });

interface Command {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly segs: readonly (readonly [number, number, number])[];
  readonly name: string;
  readonly t: number | null;
}

const command: fc.Arbitrary<Command> = fc.record({
  kind: fc.nat({ max: 9 }),
  a: fc.nat({ max: 1_000_000 }),
  b: fc.nat(),
  c: fc.nat({ max: 2 ** 40 }),
  segs: fc.array(fc.tuple(fc.nat({ max: PAGES - 1 }), fc.nat({ max: 7 }), fc.nat({ max: 7 })), {
    maxLength: 11,
  }),
  name: fc.string({ unit: 'binary', maxLength: 12 }),
  t: fc.option(fc.maxSafeNat()),
});

/** A valid event sequence (with timestamps: NaN for none) from arbitrary commands. */
function interpret(cmds: readonly Command[]): { events: GuestEvent[]; t: number[] } {
  const events: GuestEvent[] = [];
  const t: number[] = [];
  const inflight: number[] = [];
  let discardId = -1;
  const push = (e: GuestEvent, time: number): void => {
    events.push(e);
    t.push(time);
  };
  const freshId = (a: number): number => {
    let id = a;
    while (inflight.includes(id)) id++;
    return id;
  };
  for (const cmd of cmds) {
    const time = cmd.t ?? NaN;
    const disk = DISKS[cmd.b % DISKS.length]!;
    switch (cmd.kind) {
      case 0:
      case 1: {
        const segs: Segment[] = [];
        for (const [pfn, x, y] of cmd.segs) {
          const first = Math.min(x, y);
          const last = Math.max(x, y);
          if (segs.some(([p, f, l]) => p === pfn && f <= last && first <= l)) continue;
          segs.push([pfn, first, last]);
        }
        if (segs.length === 0) segs.push([cmd.a % PAGES, 0, 7]);
        const count = segs.reduce((n, [, f, l]) => n + l - f + 1, 0);
        if (count > disk.sectors) break;
        const id = freshId(cmd.a);
        inflight.push(id);
        const dir = cmd.kind === 0 ? 'read' : 'write';
        push(
          { op: 'submit', id, dir, disk: disk.id, sector: cmd.c % (disk.sectors - count + 1), segs },
          time,
        );
        break;
      }
      case 2: {
        if (inflight.length === 0) break;
        const [id] = inflight.splice(cmd.b % inflight.length, 1);
        push({ op: 'complete', id: id!, ok: cmd.a % 3 !== 0 }, time);
        break;
      }
      case 3:
      case 4: {
        const count = 1 + (cmd.a % disk.sectors);
        const sector = cmd.c % (disk.sectors - count + 1);
        if (cmd.kind === 3) {
          // An instantaneous discard: the reader numbers these -1, -2, ...
          const id = discardId--;
          push({ op: 'submit', id, dir: 'discard', disk: disk.id, sector, count }, time);
          push({ op: 'complete', id, ok: true }, time);
        } else {
          const id = freshId(cmd.a);
          inflight.push(id);
          push({ op: 'submit', id, dir: 'discard', disk: disk.id, sector, count }, time);
        }
        break;
      }
      case 5:
      case 6:
      case 7: {
        const pfns = cmd.segs.map(([p]) => p);
        push({ op: cmd.kind === 5 ? 'mem_write' : cmd.kind === 6 ? 'release' : 'dirty', pfns }, time);
        break;
      }
      default:
        push({ op: 'checkpoint', name: cmd.name }, time);
    }
  }
  return { events, t };
}

/** The events as batches cut at the given sizes, timestamps attached. */
function toBatches(
  events: readonly GuestEvent[],
  t: readonly number[],
  cuts: readonly number[],
): TraceBatch[] {
  const out: TraceBatch[] = [];
  let i = 0;
  let c = 0;
  while (i < events.length) {
    const n = Math.max(1, cuts.length === 0 ? events.length : cuts[c++ % cuts.length]!);
    const b = new BatchBuilder();
    const part = events.slice(i, i + n);
    for (const e of part) b.add(e);
    const built = b.build();
    const times = t.slice(i, i + n);
    out.push(times.some((x) => x === x) ? { ...built, t: Float64Array.from(times) } : built);
    i += n;
  }
  return out;
}

async function writeTrace(
  path: string,
  header: TraceHeader,
  batches: readonly TraceBatch[],
  format: TraceFormat,
  chunkRecords?: number,
): Promise<void> {
  const w = await TraceWriter.create(path, header, {
    format,
    ...(chunkRecords === undefined ? {} : { chunkRecords }),
  });
  for (const b of batches) await w.write(b);
  await w.close();
}

async function readBack(path: string, batchSize: number): Promise<{ events: GuestEvent[]; t: number[] }> {
  const trace = await openTrace(path, { batchSize });
  const events: GuestEvent[] = [];
  const t: number[] = [];
  for await (const b of trace.batches) {
    events.push(...batchEvents(b));
    for (let i = 0; i < b.length; i++) t.push(b.t === undefined ? NaN : b.t[i]!);
  }
  return { events, t };
}

describe('round trip', () => {
  for (const format of ['jsonl', 'binary'] as const) {
    it(`${format}: random valid event sequences come back identical, timestamps included`, async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(command, { maxLength: 60 }),
          fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
          fc.integer({ min: 1, max: 20 }),
          async (cmds, cuts, chunk) => {
            const { events, t } = interpret(cmds);
            const path = tmp.path(`rt-${format}-${run++}`);
            await writeTrace(path, HEADER, toBatches(events, t, cuts), format, chunk);
            const back = await readBack(path, 1 + (chunk % 7));
            expect(back.events).toEqual(events);
            expect(back.t).toEqual(t);
          },
        ),
        { numRuns: 80 },
      );
    });
  }

  it('keeps the header, meta included', async () => {
    for (const format of ['jsonl', 'binary'] as const) {
      const path = tmp.path(`header.${format}`);
      await writeTrace(path, HEADER, [], format);
      const { header, events } = await readAll(path);
      expect(header).toEqual(HEADER);
      expect(events).toEqual([]);
    }
  });

  it('converts JSON Lines to binary and back to the same bytes and events', async () => {
    const { events, t } = interpret(
      fc.sample(fc.array(command, { minLength: 300, maxLength: 300 }), { numRuns: 1, seed: 42 })[0]!,
    );
    const jsonl = tmp.path('conv.jsonl');
    await writeTrace(jsonl, HEADER, toBatches(events, t, [13]), 'jsonl');
    const bin = tmp.path('conv.lctrace');
    const toBinary = await convertTrace(jsonl, bin);
    expect(toBinary).toMatchObject({ format: 'binary', from: 'jsonl', events: events.length });
    const again = tmp.path('conv2.jsonl');
    await convertTrace(bin, again, 'jsonl');
    expect(await readFile(again, 'utf8')).toBe(await readFile(jsonl, 'utf8'));
    expect((await readAll(bin)).events).toEqual(events);
  });

  it('writes an instantaneous discard as a discard line, any other discard as the io_submit extension', async () => {
    const path = tmp.path('discards.jsonl');
    const b = new BatchBuilder()
      .submitDiscard(-1, 0, 8, 16)
      .complete(-1, true)
      .submitDiscard(5, 0, 100, 8)
      .memWrite([1])
      .complete(5, true)
      .submitDiscard(-9, 7, 0, 1)
      .complete(-9, true);
    await writeTrace(path, HEADER, [b.build()], 'jsonl');
    const lines = (await readFile(path, 'utf8')).trim().split('\n').slice(1);
    expect(lines).toEqual([
      '{"op":"discard","disk":0,"sector":8,"count":16}',
      '{"op":"io_submit","id":5,"dir":"discard","disk":0,"sector":100,"count":8}',
      '{"op":"mem_write","pfns":[1]}',
      '{"op":"io_complete","id":5,"ok":true}',
      '{"op":"discard","disk":7,"sector":0,"count":1}',
    ]);
    // The reader numbers instantaneous discards -1, -2, ... whatever ids the writer was given.
    const { events } = await readAll(path);
    expect(events.filter((e) => e.op === 'complete').map((e) => e.id)).toEqual([-1, 5, -2]);
  });

  it('reads lines in any field order, with spaces, CRLF and blank lines, like the writer does', async () => {
    const text = [
      JSON.stringify(HEADER),
      '  { "segs" : [ [3, 0, 7] ], "sector": 8, "disk": 0, "dir": "read", "id": 1, "op": "io_submit", "t": 5 }\r',
      '',
      '{"ok":true,"op":"io_complete","id":1,"extra":"ignored"}',
      '{"op":"mem_write","pfns":[]}',
      '{"op":"checkpoint","name":"a\\"b\\u00e9"}',
      '{"op":"discard","count":1,"sector":0,"disk":7}',
    ].join('\n');
    const trace = await readTrace(Readable.from([Buffer.from(text)]));
    const events: GuestEvent[] = [];
    for await (const b of trace.batches) events.push(...batchEvents(b));
    expect(events).toEqual([
      { op: 'submit', id: 1, dir: 'read', disk: 0, sector: 8, segs: [[3, 0, 7]] },
      { op: 'complete', id: 1, ok: true },
      { op: 'mem_write', pfns: [] },
      { op: 'checkpoint', name: 'a"bé' },
      { op: 'submit', id: -1, dir: 'discard', disk: 7, sector: 0, count: 1 },
      { op: 'complete', id: -1, ok: true },
    ]);
    expect(trace.totals()).toMatchObject({ records: 5, events: 6, checkpoints: 1, inFlight: 0 });
  });

  it('reads gzip-compressed traces of either format, and input split at any byte', async () => {
    const { events, t } = interpret(
      fc.sample(fc.array(command, { minLength: 200, maxLength: 200 }), { numRuns: 1, seed: 7 })[0]!,
    );
    for (const format of ['jsonl', 'binary'] as const) {
      const path = tmp.path(`gz.${format}`);
      await writeTrace(path, HEADER, toBatches(events, t, []), format, 50);
      const bytes = await readFile(path);
      const gz = gzipSync(bytes);
      const viaGzip = await readTrace(Readable.from([gz.subarray(0, 10), gz.subarray(10)]));
      expect(viaGzip.gzipped).toBe(true);
      const got: GuestEvent[] = [];
      for await (const b of viaGzip.batches) got.push(...batchEvents(b));
      expect(got).toEqual(events);
      // Three-byte pieces: every line and every chunk straddles reads.
      const pieces = Array.from({ length: Math.ceil(bytes.length / 3) }, (_, k) =>
        bytes.subarray(3 * k, 3 * k + 3),
      );
      const split = await readTrace(Readable.from(pieces));
      const got2: GuestEvent[] = [];
      for await (const b of split.batches) got2.push(...batchEvents(b));
      expect(got2).toEqual(events);
    }
  });
});
