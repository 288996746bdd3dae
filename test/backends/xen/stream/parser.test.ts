import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SaveStreamParser, type StreamEvent } from '../../../../backends/xen/stream/parser.ts';
import { StreamFormatError } from '../../../../backends/xen/stream/errors.ts';
import {
  chunked,
  chunkedReusing,
  randomPage,
  rec,
  streamBytes,
  streamPieces,
  type StreamSpec,
} from '../fixtures/stream-fixture.ts';

const zero = new Uint8Array(4096);
const spec = (over: Partial<StreamSpec> = {}): StreamSpec => ({
  guest: 'pv',
  pages: 40,
  batch: 16,
  content: (pfn) => (pfn % 3 === 0 ? zero : randomPage(pfn)),
  ...over,
});

async function parse(
  input: AsyncIterable<Uint8Array>,
): Promise<{ parser: SaveStreamParser; out: Uint8Array }> {
  const parser = new SaveStreamParser(input);
  const parts: Uint8Array[] = [];
  for await (const e of parser.events()) parts.push(copyOf(e));
  return { parser, out: Buffer.concat(parts) };
}

const copyOf = (e: StreamEvent): Uint8Array => (e.kind === 'bytes' ? e.bytes.slice() : e.batch.data.slice());

async function failure(bytes: Uint8Array): Promise<StreamFormatError> {
  const err = await parse(chunked([bytes], 1000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StreamFormatError);
  return err as StreamFormatError;
}

describe('save stream parser', () => {
  const kinds: [string, Partial<StreamSpec>][] = [
    ['PV', {}],
    ['HVM', { guest: 'hvm' }],
    [
      'PV, libxc v2, page tables and pages without data',
      { libxcVersion: 2, type: (p) => [0, 1, 4, 9, 0xc, 0xd, 0xe, 0xf][p % 8]! },
    ],
    [
      'HVM, checkpointed, debug VERIFY pass, optional records',
      { guest: 'hvm', checkpoints: 2, verify: true, optionalRecords: true },
    ],
    ['PV, checkpointed, optional records', { checkpoints: 1, optionalRecords: true }],
  ];
  it.each(kinds)('gives back every byte of a %s stream, pages apart', async (_, over) => {
    const s = spec(over);
    const input = streamBytes(s);
    const { parser, out } = await parse(chunked([input], 777));
    expect(Buffer.compare(out, input)).toBe(0);
    expect(parser.summary.bytes).toBe(input.length);
    expect(parser.summary.guestType).toBe(s.guest);
    expect(parser.summary.xenVersion).toBe('4.17');
    expect(JSON.parse(parser.summary.config!)).toMatchObject({ c_info: { name: `fixture-${s.guest}` } });
  });

  it('reports each page with its pfn and type, in stream order', async () => {
    const s = spec({ type: (p) => (p % 5 === 4 ? 0xf : p % 5 === 3 ? 1 : 0) });
    const seen: [number, number, boolean][] = [];
    for await (const e of new SaveStreamParser(chunked(streamPieces(s), 4096)).events()) {
      if (e.kind !== 'pages') continue;
      for (let i = 0; i < e.batch.count; i++) {
        const page = e.batch.data.subarray(i * 4096, (i + 1) * 4096);
        seen.push([
          e.batch.pfns[i]!,
          e.batch.types[i]!,
          Buffer.compare(page, s.content(e.batch.pfns[i]!)) === 0,
        ]);
      }
    }
    const expected = Array.from({ length: 40 }, (_, p) => p)
      .filter((p) => p % 5 !== 4)
      .map((p) => [p, p % 5 === 3 ? 1 : 0, true]);
    expect(seen).toEqual(expected);
  });

  it('reads any chunking of the input the same way', async () => {
    const input = streamBytes(spec({ guest: 'hvm', pages: 20 }));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9000 }), async (size) => {
        const { out } = await parse(chunked([input], size));
        expect(Buffer.compare(out, input)).toBe(0);
      }),
      { numRuns: 25 },
    );
  });

  it('copies what it keeps before reading on: its input may reuse one buffer for every chunk', async () => {
    const input = streamBytes(spec({ guest: 'pv', pages: 20, checkpoints: 1, optionalRecords: true }));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9000 }), async (size) => {
        const { out } = await parse(chunkedReusing([input], size));
        expect(Buffer.compare(out, input)).toBe(0);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a stream truncated anywhere, naming where', async () => {
    const input = streamBytes(spec({ pages: 8 }));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: input.length - 1 }), async (cut) => {
        const err = await failure(input.subarray(0, cut));
        expect(err.message).toMatch(/truncated|Not an xl save file/);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a bad magic, a legacy stream, a wrong libxl version', async () => {
    const input = streamBytes(spec({ pages: 4 }));
    const bad = (at: number, value: number): Uint8Array => {
      const b = new Uint8Array(input);
      b[at] = value;
      return b;
    };
    expect((await failure(bad(0, 0x41))).message).toMatch(/^Not an xl save file: bad magic/);
    expect((await failure(bad(36, 1))).message).toMatch(/Legacy \(pre-v2\) save stream/);
    const cfgLen = new DataView(input.buffer).getUint32(44, true);
    expect((await failure(bad(48 + cfgLen + 11, 3))).message).toMatch(/libxl stream version 3/);
  });

  it('refuses an unknown mandatory libxc record but keeps an optional one', async () => {
    const pieces = [...streamPieces(spec({ pages: 4 }))];
    const at = pieces.findIndex((p) => p.length === 8 && p[0] === 0x10); // STATIC_DATA_END
    const withMandatory = [...pieces.slice(0, at), rec(0x44, new Uint8Array(3)), ...pieces.slice(at)];
    expect((await failure(Buffer.concat(withMandatory))).message).toMatch(
      /Unknown mandatory libxc record type UNKNOWN\(0x00000044\)/,
    );
  });

  it('refuses PAGE_DATA whose length disagrees with its pfns, as Xen does', async () => {
    const pieces = [...streamPieces(spec({ pages: 4, batch: 4 }))];
    const at = pieces.findIndex(
      (p) => new DataView(p.buffer, p.byteOffset).getUint32(0, true) === 1 && p.length > 4096,
    );
    const page = pieces[at]!.slice();
    new DataView(page.buffer).setUint32(16 + 8 * 2 + 4, 0xf0000000, true); // pfn 2 becomes XTAB: no data
    pieces[at] = page;
    expect((await failure(Buffer.concat(pieces))).message).toMatch(
      /libxc PAGE_DATA record: wrong size: length 16424, expected 12328/,
    );
  });

  it('refuses bytes after the libxl END record', async () => {
    const input = Buffer.concat([streamBytes(spec({ pages: 2 })), new Uint8Array(8)]);
    expect((await failure(input)).message).toMatch(/Bytes after the libxl END record/);
  });
});
