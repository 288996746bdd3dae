/** Malformed input of any kind gives a TraceError, never a crash; the fast line scanner agrees with JSON.parse. */
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import { loadHasher } from '../../../core/hash.ts';
import { BinarySink, encodeFileHeader, endChunk, frameChunk } from '../../../core/trace/binary.ts';
import { makeHeader, readTrace, TraceError } from '../../../core/trace/index.ts';
import { JsonlDecoder } from '../../../core/trace/jsonl.ts';
import { RecordSplitter } from '../../../core/trace/records.ts';

const HEADER = makeHeader(32, [
  { id: 0, sectors: 2000 },
  { id: 1, sectors: 100 },
]);

const LINES = [
  '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":16,"segs":[[3,0,3],[4,0,7],[3,4,7]]}',
  '{"op":"io_submit","id":2,"dir":"write","disk":1,"sector":8,"segs":[[5,2,6]],"t":17}',
  '{"op":"io_submit","id":3,"dir":"discard","disk":0,"sector":100,"count":64}',
  '{"op":"io_complete","id":1,"ok":true}',
  '{"op":"io_complete","id":3,"ok":false,"t":9007199254740991}',
  '{"op":"discard","disk":1,"sector":0,"count":8}',
  '{"op":"mem_write","pfns":[1,2,31]}',
  '{"op":"release","pfns":[]}',
  '{"op":"dirty","pfns":[0],"t":0}',
  '{"op":"checkpoint","name":"c\\u0001 1"}',
  '{"op":"checkpoint","name":"plain","t":5}',
];

const at = (n: number): fc.Arbitrary<number> => fc.noBias(fc.integer({ min: 0, max: n }));

/** One random edit of `line`, often next to a number, where the scanner has most to get right. */
const edit = (line: string): fc.Arbitrary<string> => {
  const digits = [...line].flatMap((ch, k) => (ch >= '0' && ch <= '9' ? [k] : []));
  const anyChar = fc.constantFrom(...'0123456789,[]{}":-.eE+ tx\\');
  const numChar = fc.constantFrom(...'00123456789-.eE+');
  const edits = [
    fc.tuple(at(line.length), anyChar).map(([k, ch]) => line.slice(0, k) + ch + line.slice(k + 1)),
    fc.tuple(at(line.length), anyChar).map(([k, ch]) => line.slice(0, k) + ch + line.slice(k)),
    at(line.length).map((k) => line.slice(0, k) + line.slice(k + 1)),
    at(line.length).map((k) => line.slice(0, k)),
  ];
  if (digits.length > 0) {
    edits.push(
      fc
        .tuple(fc.constantFrom(...digits), fc.boolean(), numChar)
        .map(([k, after, ch]) => line.slice(0, k + (after ? 1 : 0)) + ch + line.slice(k + (after ? 1 : 0))),
    );
  }
  return fc.oneof(...edits);
};

type Outcome = { error: string } | { events: unknown[] };

function decodeWith(scanner: boolean, lines: readonly string[]): Outcome {
  const d = new JsonlDecoder(HEADER, 64, scanner);
  const events: unknown[] = [];
  try {
    lines.forEach((line, k) => {
      d.line(line, 0, line.length, k + 2);
    });
  } catch (err) {
    if (err instanceof TraceError) return { error: err.message };
    throw err;
  }
  events.push(...batchEvents(d.asm.build()));
  return { events };
}

describe('the line scanner', () => {
  it('agrees with JSON.parse and the field checks on every single-character edit of every line', () => {
    const alphabet = [...'09,[]}":-.E \\'];
    // Errors are most of the outcomes: skip their stack traces.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    for (let k = 0; k < LINES.length; k++) {
      // Lines after the first three depend on nothing but them.
      const before = LINES.slice(0, Math.min(k, 3));
      const line = LINES[k]!;
      const variants = new Set<string>();
      for (let at = 0; at <= line.length; at++) {
        variants.add(line.slice(0, at) + line.slice(at + 1));
        for (const ch of alphabet) {
          variants.add(line.slice(0, at) + ch + line.slice(at + 1));
          variants.add(line.slice(0, at) + ch + line.slice(at));
        }
      }
      for (const v of variants) {
        const lines = [...before, v];
        const fast = decodeWith(true, lines);
        const slow = decodeWith(false, lines);
        if (JSON.stringify(fast) !== JSON.stringify(slow))
          expect({ line: v, fast }).toEqual({ line: v, fast: slow });
      }
    }
    Error.stackTraceLimit = limit;
  });

  it('agrees with them on random sequences of lines with random edits', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom(...LINES.keys()), { minLength: 1, maxLength: 6 })
          .chain((picks) =>
            fc.tuple(fc.constant(picks.map((k) => LINES[k]!)), fc.nat(picks.length - 1), fc.boolean()),
          )
          .chain(([lines, k, mutate]) =>
            (mutate ? edit(lines[k]!) : fc.constant(lines[k]!)).map((changed) =>
              lines.map((l, j) => (j === k ? changed : l)),
            ),
          ),
        (lines) => {
          expect(decodeWith(true, lines)).toEqual(decodeWith(false, lines));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

async function readToEnd(bytes: Buffer): Promise<void> {
  const trace = await readTrace(Readable.from([bytes]));
  for await (const _ of trace.batches) {
    // read on
  }
}

async function onlyTraceErrors(bytes: Buffer): Promise<void> {
  try {
    await readToEnd(bytes);
  } catch (err) {
    if (!(err instanceof TraceError)) throw err;
  }
}

describe('malformed input never crashes', () => {
  it('JSON Lines: any edit of a valid trace reads or gives a TraceError', async () => {
    const text = [JSON.stringify(HEADER), ...LINES].join('\n');
    await fc.assert(
      fc.asyncProperty(edit(text), async (bad) => {
        await onlyTraceErrors(Buffer.from(bad));
      }),
      { numRuns: 150 },
    );
  });

  it('binary: a chunk whose payload is damaged but whose checksum fits gives a TraceError', async () => {
    const hasher = await loadHasher();
    const sink = new BinarySink(hasher);
    const splitter = new RecordSplitter(sink, HEADER, true);
    const b = new BatchBuilder()
      .submit(1, 'read', 0, 16, [
        [3, 0, 7],
        [4, 0, 7],
      ])
      .submit(2, 'write', 1, 8, [[5, 2, 6]])
      .submitDiscard(3, 0, 100, 64)
      .complete(1, true)
      .submitDiscard(-1, 1, 0, 8)
      .complete(-1, true)
      .memWrite([1, 2, 31])
      .checkpoint('x')
      .complete(3, false);
    splitter.push({ ...b.build(), t: Float64Array.from([1, 2, 3, NaN, 5, 5, 7, 8, 9]) });
    const payload = sink.takePayload()!;
    const good = (raw: Uint8Array): Buffer =>
      Buffer.concat([
        encodeFileHeader(HEADER, hasher),
        frameChunk({ ...payload, raw }, deflateRawSync(raw), hasher),
        endChunk(hasher),
      ]);
    await readToEnd(good(payload.raw));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(payload.raw.length - 1), fc.nat(255)), { minLength: 1, maxLength: 3 }),
        fc.nat(payload.raw.length),
        async (flips, cut) => {
          const raw = Uint8Array.from(payload.raw);
          for (const [at, v] of flips) raw[at] = v;
          await onlyTraceErrors(good(raw));
          await onlyTraceErrors(good(raw.subarray(0, cut)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('binary: any damaged or truncated file gives a TraceError', async () => {
    const hasher = await loadHasher();
    const sink = new BinarySink(hasher);
    new RecordSplitter(sink, HEADER, true).push(new BatchBuilder().memWrite([1, 2]).checkpoint('c').build());
    const file = Buffer.concat([encodeFileHeader(HEADER, hasher), sink.flush()!, endChunk(hasher)]);
    await fc.assert(
      fc.asyncProperty(fc.nat(file.length - 1), fc.nat(255), fc.boolean(), async (at, v, truncate) => {
        const bad = Buffer.from(file);
        bad[at] = v;
        await onlyTraceErrors(truncate ? file.subarray(0, at) : bad);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the lines the scanner tests use', () => {
  it('are a valid trace', () => {
    expect(decodeWith(true, LINES)).toMatchObject({ events: expect.any(Array) });
  });
});
