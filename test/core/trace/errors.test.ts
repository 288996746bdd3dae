import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../../core/events/builder.ts';
import { makeHeader, readTrace, TraceError, TraceWriter, validateTrace } from '../../../core/trace/index.ts';
import { tempDir } from './support.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

const HEADER = makeHeader(16, [
  { id: 0, sectors: 1000 },
  { id: 2, sectors: 64 },
]);
const HEAD = JSON.stringify(HEADER);

/** Reads `text` to the end; returns the TraceError it fails with. */
async function failure(text: string | Buffer): Promise<TraceError> {
  try {
    const trace = await readTrace(Readable.from([typeof text === 'string' ? Buffer.from(text) : text]));
    for await (const _ of trace.batches) {
      // read on
    }
  } catch (err) {
    if (err instanceof TraceError) return err;
    throw new Error(`expected a TraceError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a TraceError, but the trace read fine');
}

const submit = (id: number, extra = ''): string =>
  `{"op":"io_submit","id":${id},"dir":"read","disk":0,"sector":0,"segs":[[1,0,7]]${extra}}`;

describe('malformed JSON Lines', () => {
  const cases: [name: string, lines: string[], line: number, message: RegExp][] = [
    ['an empty trace', [], 1, /^line 1: missing header: the trace is empty$/],
    [
      'an event before any header',
      [submit(1)],
      1,
      /^line 1: missing header: the first line is an event \("op":"io_submit"\)/,
    ],
    ['a header that is not JSON', ['{"format":'], 1, /^line 1: missing header: bad JSON/],
    [
      'another format',
      [HEAD.replace('leanckpt-trace', 'other')],
      1,
      /^line 1: not a leanckpt trace: "format" is "other"/,
    ],
    [
      'another version',
      [HEAD.replace('"version":1', '"version":2')],
      1,
      /^line 1: unsupported trace version 2/,
    ],
    [
      'a header without pages',
      [HEAD.replace('"pages":16', '"pages":"16"')],
      1,
      /^line 1: header: "pages" must be/,
    ],
    [
      'a disk declared twice',
      [HEAD.replace('"id":2', '"id":0')],
      1,
      /^line 1: header: disk 0 is declared twice$/,
    ],
    ['bad JSON', [HEAD, submit(1), '{"op":"io_complete","id":1,'], 3, /^line 3: bad JSON: /],
    [
      'a leading zero the scanner must not accept',
      [HEAD, '{"op":"mem_write","pfns":[01]}'],
      2,
      /^line 2: bad JSON/,
    ],
    ['not an object', [HEAD, '[1,2]'], 2, /^line 2: expected a JSON object, got \[1,2\]$/],
    ['an unknown op', [HEAD, '{"op":"io_flush","id":1}'], 2, /^line 2: unknown op "io_flush"$/],
    ['no op', [HEAD, '{"id":1}'], 2, /^line 2: missing "op"$/],
    [
      'a missing field',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"segs":[[1,0,7]]}'],
      2,
      /^line 2: io_submit: missing "sector"$/,
    ],
    [
      'a wrong-typed field',
      [HEAD, '{"op":"io_submit","id":"1","dir":"read","disk":0,"sector":0,"segs":[]}'],
      2,
      /^line 2: io_submit: "id" must be an integer in 0\.\.2\^53-1, got "1"$/,
    ],
    [
      'a negative sector',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":-8,"segs":[[1,0,7]]}'],
      2,
      /^line 2: io_submit: "sector" must be an integer/,
    ],
    [
      'a fractional id',
      [HEAD, '{"op":"io_complete","id":1.5,"ok":true}'],
      2,
      /^line 2: io_complete: "id" must be an integer/,
    ],
    [
      'a bad direction',
      [HEAD, '{"op":"io_submit","id":1,"dir":"flush","disk":0,"sector":0,"segs":[]}'],
      2,
      /^line 2: io_submit: "dir" must be "read", "write" or "discard", got "flush"$/,
    ],
    [
      'a non-boolean ok',
      [HEAD, submit(1), '{"op":"io_complete","id":1,"ok":1}'],
      3,
      /^line 3: io_complete: "ok" must be true or false, got 1$/,
    ],
    [
      'a bad timestamp',
      [HEAD, submit(1, ',"t":-5')],
      2,
      /^line 2: "t" must be an integer number of nanoseconds/,
    ],
    [
      'a segment that is not a triple',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[[1,0]]}'],
      2,
      /^line 2: io_submit: segment 0 must be \[pfn, first, last\], got \[1,0\]$/,
    ],
    [
      'a page out of range in a segment',
      [HEAD, '{"op":"io_submit","id":1,"dir":"write","disk":0,"sector":0,"segs":[[1,0,7],[16,0,7]]}'],
      2,
      /^line 2: io_submit: segment 1: page 16 outside the guest's 0\.\.15$/,
    ],
    [
      'a page out of range in a page list',
      [HEAD, '{"op":"mem_write","pfns":[3,99]}'],
      2,
      /^line 2: mem_write: pfns\[1\]: page 99 outside the guest's 0\.\.15$/,
    ],
    [
      'a non-integer page',
      [HEAD, '{"op":"release","pfns":[3,"x"]}'],
      2,
      /^line 2: release: pfns\[1\] must be a non-negative integer, got "x"$/,
    ],
    [
      'a segment with first > last',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[[1,5,3]]}'],
      2,
      /^line 2: io_submit: segment 0 has sectors 5\.\.3, want 0 <= first <= last <= 7$/,
    ],
    [
      'a segment with last > 7',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[[1,0,8]]}'],
      2,
      /^line 2: io_submit: segment 0 has sectors 0\.\.8, want/,
    ],
    [
      'overlapping segments',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[[1,0,3],[2,0,7],[1,3,5]]}'],
      2,
      /^line 2: io_submit: segments 0 and 2 overlap on page 1 \(sectors 0\.\.3 and 3\.\.5\)$/,
    ],
    [
      'a page split into two disjoint segments is fine, then a bad line',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[[1,0,3],[1,4,7]]}', 'x'],
      3,
      /^line 3: bad JSON/,
    ],
    [
      'sectors beyond the disk',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":2,"sector":60,"segs":[[1,0,7]]}'],
      2,
      /^line 2: io_submit: sectors 60\.\.67 lie beyond disk 2's 64 sectors$/,
    ],
    [
      'a discard beyond the disk',
      [HEAD, '{"op":"discard","disk":0,"sector":999,"count":2}'],
      2,
      /^line 2: discard: sectors 999\.\.1000 lie beyond disk 0's 1000 sectors$/,
    ],
    [
      'a discard of nothing',
      [HEAD, '{"op":"discard","disk":0,"sector":9,"count":0}'],
      2,
      /^line 2: discard: "count" must be at least 1$/,
    ],
    [
      'an unknown disk',
      [HEAD, '{"op":"io_submit","id":1,"dir":"discard","disk":1,"sector":0,"count":8}'],
      2,
      /^line 2: io_submit: unknown disk 1 \(the header declares disks: 0, 2\)$/,
    ],
    [
      'a reused in-flight id',
      [HEAD, submit(4), '{"op":"mem_write","pfns":[]}', submit(4)],
      4,
      /^line 4: io_submit: request 4 is already in flight \(submitted on line 2\)$/,
    ],
    [
      'a completion of an id not in flight',
      [HEAD, submit(4), '{"op":"io_complete","id":4,"ok":false}', '{"op":"io_complete","id":4,"ok":true}'],
      4,
      /^line 4: io_complete: request 4 is not in flight$/,
    ],
    [
      'a read with no segments',
      [HEAD, '{"op":"io_submit","id":1,"dir":"read","disk":0,"sector":0,"segs":[]}'],
      2,
      /^line 2: io_submit: a read with no segments$/,
    ],
    ['a checkpoint without a name', [HEAD, '{"op":"checkpoint"}'], 2, /^line 2: checkpoint: missing "name"$/],
    [
      'a name that is not Unicode',
      [HEAD, '{"op":"checkpoint","name":"a\\ud800"}'],
      2,
      /^line 2: checkpoint: "name" is not well-formed Unicode/,
    ],
  ];
  for (const [name, lines, line, message] of cases) {
    it(name, async () => {
      const err = await failure(lines.join('\n'));
      expect(err.message).toMatch(message);
      expect(err.line).toBe(line);
    });
  }

  it('counts blank lines and lines after the last newline', async () => {
    const err = await failure(`${HEAD}\n\n\n${submit(1)}\n${submit(1)}`);
    expect(err.message).toBe('line 5: io_submit: request 1 is already in flight (submitted on line 4)');
  });

  it('validateTrace names the file it cannot open and the line it cannot read', async () => {
    await expect(validateTrace(tmp.path('missing.jsonl'))).rejects.toThrow(
      /^cannot open trace .*missing\.jsonl: ENOENT/,
    );
    const path = tmp.path('bad.jsonl');
    await writeFile(path, `${HEAD}\n${submit(1)}\n{"op":"io_complete","id":2,"ok":true}\n`);
    await expect(validateTrace(path)).rejects.toThrow(
      expect.objectContaining({
        name: 'TraceError',
        line: 3,
        message: 'line 3: io_complete: request 2 is not in flight',
      }),
    );
  });

  it('accepts a write naming the same sectors of one page twice (a read may not)', async () => {
    const path = tmp.path('write-twice.jsonl');
    const write =
      '{"op":"io_submit","id":1,"dir":"write","disk":0,"sector":0,"segs":[[1,0,7],[1,0,7],[1,2,3]]}';
    await writeFile(path, `${HEAD}\n${write}\n{"op":"io_complete","id":1,"ok":true}\n`);
    expect(await validateTrace(path)).toMatchObject({ records: 2, inFlight: 0 });
    const err = await failure(`${HEAD}\n${write.replace('"write"', '"read"')}`);
    expect(err.message).toBe('line 2: io_submit: segments 0 and 1 overlap on page 1 (sectors 0..7 and 0..7)');
  });

  it('reports requests still in flight at the end without failing', async () => {
    const path = tmp.path('inflight.jsonl');
    await writeFile(path, `${HEAD}\n${submit(1)}\n${submit(2)}\n{"op":"io_complete","id":1,"ok":true}\n`);
    expect(await validateTrace(path)).toMatchObject({ records: 3, events: 3, inFlight: 1, format: 'jsonl' });
  });
});

describe('malformed binary traces', () => {
  let good: Buffer;
  beforeAll(async () => {
    const path = tmp.path('good.lctrace');
    const w = await TraceWriter.create(path, HEADER, { chunkRecords: 4 });
    const b = new BatchBuilder();
    for (let id = 0; id < 10; id++) b.submit(id, 'read', 0, 8 * id, [[id, 0, 7]]).complete(id, true);
    await w.write(b.build());
    await w.close();
    good = await readFile(path);
  });

  it('reads the good one', async () => {
    const trace = await readTrace(Readable.from([good]));
    for await (const _ of trace.batches) {
      // read on
    }
    expect(trace.totals()).toMatchObject({ records: 20, events: 20, inFlight: 0 });
  });

  it('names the chunk and byte offset of a corrupted chunk', async () => {
    const headerBytes = 16 + good.readUInt32LE(12) + 8;
    const bad = Buffer.from(good);
    const chunk1 = headerBytes + 24 + good.readUInt32LE(headerBytes + 12) + 8;
    bad[chunk1 + 30]! ^= 0x40;
    const err = await failure(bad);
    expect(err.message).toBe(`chunk 1 at byte ${chunk1}: checksum mismatch`);
    expect(err).toMatchObject({ chunk: 1, offset: chunk1 });
  });

  it('rejects a corrupted header, truncation and a missing end chunk', async () => {
    const headerBytes = 16 + good.readUInt32LE(12) + 8;
    const badHeader = Buffer.from(good);
    badHeader[20]! ^= 1;
    expect((await failure(badHeader)).message).toMatch(/^byte \d+: header checksum mismatch$/);
    const version = Buffer.from(good);
    version.writeUInt16LE(2, 8);
    expect((await failure(version)).message).toBe(
      'byte 8: unsupported binary trace version 2.0; this reader reads 1.x',
    );
    expect((await failure(good.subarray(0, good.length - 40))).message).toMatch(
      /^chunk \d+ at byte \d+: truncated chunk$/,
    );
    expect((await failure(good.subarray(0, good.length - 32))).message).toMatch(
      /^chunk 5 at byte \d+: the trace ends without an end chunk \(truncated\)$/,
    );
    expect((await failure(Buffer.concat([good, Buffer.from([0])]))).message).toMatch(
      /^byte \d+: data after the end chunk$/,
    );
    expect((await failure(good.subarray(0, headerBytes - 3))).message).toBe(
      'byte 16: truncated binary trace header',
    );
  });

  it('applies the same event checks as JSON Lines, naming the record', async () => {
    const path = tmp.path('unchecked.lctrace');
    const w = await TraceWriter.create(path, HEADER, { validate: false });
    await w.write(new BatchBuilder().memWrite([1]).complete(3, true).build());
    await w.close();
    const err = await failure(await readFile(path));
    expect(err.message).toMatch(/^chunk 0 at byte \d+: record 2: io_complete: request 3 is not in flight$/);
    expect(err.record).toBe(2);
  });
});

describe('writer checks', () => {
  it('refuses an invalid event by its number and leaves no file behind', async () => {
    const path = tmp.path('refused.jsonl');
    const w = await TraceWriter.create(path, HEADER);
    const b = new BatchBuilder().submit(1, 'write', 0, 0, [[3, 0, 7]]).submit(1, 'read', 0, 8, [[4, 0, 7]]);
    await expect(w.write(b.build())).rejects.toThrow(
      'event 2: read 1: request 1 is already in flight (submitted on event 1)',
    );
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    await expect(w.close()).rejects.toThrow(TraceError);
  });

  it('reserves negative ids for instantaneous discards', async () => {
    const w = await TraceWriter.create(tmp.path('neg.jsonl'), HEADER);
    await expect(w.write(new BatchBuilder().submit(-3, 'read', 0, 0, [[1, 0, 7]]).build())).rejects.toThrow(
      /^event 1: read -3: request id -3 is not an integer in 0\.\.2\^53-1/,
    );
    const w2 = await TraceWriter.create(tmp.path('neg2.jsonl'), HEADER);
    await w2.write(new BatchBuilder().submitDiscard(-1, 0, 0, 8).build());
    await expect(w2.write(new BatchBuilder().memWrite([1]).build())).rejects.toThrow(
      /^event 1: discard -1 has a negative id but is not completed ok by the next event/,
    );
  });

  it('refuses timestamps and names a trace cannot hold', async () => {
    const w = await TraceWriter.create(tmp.path('t.lctrace'), HEADER);
    await expect(
      w.write({ ...new BatchBuilder().memWrite([1]).build(), t: Float64Array.of(1.5) }),
    ).rejects.toThrow('event 1: timestamp 1.5 is not an integer number of nanoseconds in 0..2^53-1');
    const w2 = await TraceWriter.create(tmp.path('n.jsonl'), HEADER);
    await expect(w2.write(new BatchBuilder().checkpoint('x\udc00').build())).rejects.toThrow(
      'event 1: checkpoint: name is not well-formed Unicode (a lone surrogate)',
    );
  });

  it('refuses a bad header before creating anything', async () => {
    await expect(TraceWriter.create(tmp.path('h.jsonl'), { ...HEADER, pages: 0 })).rejects.toThrow(
      /header: "pages" must be an integer/,
    );
  });
});
