/**
 * Page data written from page views (gathered writes, checksummed in place) must give exactly the
 * bytes of the copying path, whatever the memory's layout, and fail as cleanly.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import xxhash from 'xxhash-wasm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../../core/errors.ts';
import { loadHasher, type Hasher64, type StreamingHash64 } from '../../../core/hash.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { framedSize, RecordType } from '../../../core/image/format.ts';
import { frameRecord } from '../../../core/image/frame.ts';
import { GATHERED_WRITE_MAX, RecordSink } from '../../../core/image/sink.ts';
import type { ImageInput, ImagePolicy } from '../../../core/image/types.ts';
import { sortedSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import { PAGE_SIZE, type GuestMemory } from '../../../core/ports.ts';
import {
  ArrayBlockStore,
  ArrayMemory,
  fillRandom,
  inputOf,
  makeGuest,
  PatternMemory,
  targetOf,
  tempDir,
  type Guest,
} from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
/** FileHandle.prototype, for watching and failing gathered writes. */
let handleProto: FileHandle;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
  const probe = await open(tmp.path('probe'), 'w');
  handleProto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => tmp.cleanup());

type Layout = (pfn: number) => { buffer: ArrayBuffer; offset: number };

/**
 * `memory`'s pages copied into another layout and offered as page views; readPage is refused, so
 * every page must come from a view. The copies are taken now: later changes to `memory` do not show.
 */
function viewed(memory: ArrayMemory, layout: Layout): GuestMemory {
  const views: Uint8Array[] = [];
  for (let pfn = 0; pfn < memory.pageCount; pfn++) {
    const { buffer, offset } = layout(pfn);
    const view = new Uint8Array(buffer, offset, PAGE_SIZE);
    view.set(memory.page(pfn));
    views.push(view);
  }
  return {
    pageCount: memory.pageCount,
    readPage: () => {
      throw new Error('readPage called on memory that offers page views');
    },
    writePage: () => {
      throw new Error('writePage called by the writer');
    },
    pageView: (pfn) => views[pfn]!,
  };
}

/** Layouts: pages in chunks of `chunkPages`, reversed, interleaved, or one buffer each. */
function chunked(pages: number, chunkPages: number): Layout {
  const chunks = Array.from(
    { length: Math.ceil(pages / chunkPages) },
    // A leading page of slack: views do not start at offset 0 of their buffer.
    () => new ArrayBuffer((chunkPages + 1) * PAGE_SIZE),
  );
  return (pfn) => ({
    buffer: chunks[Math.floor(pfn / chunkPages)]!,
    offset: ((pfn % chunkPages) + 1) * PAGE_SIZE,
  });
}

function reversed(pages: number): Layout {
  const buffer = new ArrayBuffer(pages * PAGE_SIZE);
  return (pfn) => ({ buffer, offset: (pages - 1 - pfn) * PAGE_SIZE });
}

/** Runs of 1, 2, 3 ... pages contiguous in memory, each run placed away from the one before. */
function runs(pages: number): Layout {
  const buffer = new ArrayBuffer(2 * pages * PAGE_SIZE);
  const slot = new Uint32Array(pages);
  for (let pfn = 0, run = 1, left = 1, at = 0; pfn < pages; pfn++) {
    slot[pfn] = at++;
    if (--left === 0) {
      run++;
      left = run;
      at++; // a page of gap
    }
  }
  return (pfn) => ({ buffer, offset: slot[pfn]! * PAGE_SIZE });
}

function separate(): Layout {
  return () => ({ buffer: new ArrayBuffer(PAGE_SIZE), offset: 0 });
}

async function bytesOf(path: string, input: ImageInput, policy: ImagePolicy): Promise<Buffer> {
  await writeImage(path, input, policy);
  return readFile(path);
}

/** The image of `g` from its copying memory, and from each viewed layout: all must be equal. */
async function expectSameImages(g: Guest, policy: ImagePolicy, layouts: Record<string, Layout>) {
  const copied = await bytesOf(tmp.path('copied.img'), inputOf(g, hasher), policy);
  for (const [name, layout] of Object.entries(layouts)) {
    const memory = viewed(g.memory, layout);
    const image = await bytesOf(tmp.path(`${name}.img`), { ...inputOf(g, hasher), memory }, policy);
    expect({ layout: name, same: Buffer.compare(image, copied) === 0 }).toEqual({ layout: name, same: true });
  }
  return copied;
}

/** Counts the buffers handed to gathered writes, and the calls. */
function watchWritev() {
  const seen = { calls: 0, buffers: 0, sizes: [] as number[] };
  const original = handleProto.writev;
  vi.spyOn(handleProto, 'writev').mockImplementation(function (
    this: FileHandle,
    buffers: readonly NodeJS.ArrayBufferView[],
    position?: number,
  ) {
    seen.calls++;
    seen.buffers += buffers.length;
    seen.sizes.push(buffers.reduce((n, b) => n + b.byteLength, 0));
    return original.call(this, buffers, position);
  });
  return seen;
}

describe('page data from page views', () => {
  it('writes the same bytes as the copying path, for every policy and memory layout', async () => {
    // 2600 pages: three PAGE_DATA records in baseline, several sink buffers' worth of data.
    const pages = 2600;
    const mapped = Array.from({ length: 300 }, (_, i) => ({ pfn: 7 * i + 3, disk: 0, sector: 8 * i }));
    const zeroPages = [0, 1, 2, 10, 1023, 1024, 1025, 2047, 2048, 2598, 2599];
    const g = makeGuest({ pages, diskSectors: [4096], mapped, zeroPages });
    g.blocks.sectors(0, 8 * 5, 1)[0]! ^= 1; // pfn 38 is demoted: written again after the others
    const layouts = {
      contiguous: chunked(pages, pages),
      chunks: chunked(pages, 1000),
      reversed: reversed(pages),
      runs: runs(pages),
      separate: separate(),
    };
    for (const policy of [POLICIES.baseline, POLICIES.p2b, POLICIES['p2b+zero']]) {
      const image = await expectSameImages(g, policy, layouts);
      const target = targetOf(g, hasher);
      await restoreImage(tmp.path('copied.img'), target);
      expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
      expect(image.length).toBeGreaterThan(0);
    }
  });

  it('puts records at every position relative to the sink buffer and its flushes', async () => {
    // Guests of 1 to 3 records, the state shifting the records' offsets in the buffer.
    for (const pages of [1, 1023, 1024, 1025, 2049]) {
      for (const stateBytes of [1, 4093, 8190]) {
        const state = new Uint8Array(stateBytes).fill(stateBytes & 0xff);
        const g = { ...makeGuest({ pages, diskSectors: [64], zeroPages: [0] }), state };
        await expectSameImages(g, POLICIES['p2b+zero'], {
          contiguous: chunked(pages, pages),
          runs: runs(pages),
        });
      }
    }
  });

  it('joins views that follow one another in memory: one part per contiguous run', async () => {
    const pages = 3000;
    const g = makeGuest({ pages, diskSectors: [64] });
    const memory = viewed(g.memory, chunked(pages, pages));
    const seen = watchWritev();
    await writeImage(tmp.path('joined.img'), { ...inputOf(g, hasher), memory }, POLICIES.baseline);
    // Three records, each one part between its framing: a few buffers in all, not 3000.
    expect(seen.calls).toBeGreaterThan(0);
    expect(seen.buffers).toBeLessThanOrEqual(8);

    vi.restoreAllMocks();
    const split = watchWritev();
    const scattered = viewed(g.memory, separate());
    await writeImage(
      tmp.path('scattered.img'),
      { ...inputOf(g, hasher), memory: scattered },
      POLICIES.baseline,
    );
    expect(split.buffers).toBeGreaterThanOrEqual(pages);
    expect(
      Buffer.compare(await readFile(tmp.path('joined.img')), await readFile(tmp.path('scattered.img'))),
    ).toBe(0);
  });

  it('writes up to GATHERED_WRITE_MAX bytes at a time', async () => {
    const pages = 20000; // 78 MiB: three gathered writes
    const g = makeGuest({ pages, diskSectors: [64] });
    const memory = viewed(g.memory, chunked(pages, pages));
    const seen = watchWritev();
    const stats = await writeImage(
      tmp.path('large.img'),
      { ...inputOf(g, hasher), memory },
      POLICIES.baseline,
    );
    expect(seen.sizes.length).toBe(3);
    for (const size of seen.sizes) expect(size).toBeLessThanOrEqual(GATHERED_WRITE_MAX);
    expect(seen.sizes[0]).toBeGreaterThan(GATHERED_WRITE_MAX - 5 * 1024 * 1024);
    // The file's first and last bytes went through plain writes (header, END) or these.
    expect(seen.sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(stats.bytes);
  });

  it('checksums the parts with the WebAssembly hasher too', async () => {
    const x = await xxhash();
    const wasm: Hasher64 = {
      hash64: (bytes) => x.h64Raw(bytes, 0n),
      streaming: () => x.create64(0n) as unknown as StreamingHash64,
    };
    const pages = 1500;
    const g = makeGuest({ pages, diskSectors: [64], zeroPages: [5, 6] });
    const copied = await bytesOf(tmp.path('native.img'), inputOf(g, hasher), POLICIES['p2b+zero']);
    const memory = viewed(g.memory, runs(pages));
    const image = await bytesOf(tmp.path('wasm.img'), { ...inputOf(g, wasm), memory }, POLICIES['p2b+zero']);
    expect(Buffer.compare(image, copied)).toBe(0);
  });

  it('closes the open record before a full ZERO record, as the copying path does', async () => {
    // 66866 zero extents (even pfns; odd pfns are mapped, so no two zero pages touch) and a data page
    // every 1000 pfns: a PAGE_DATA record is open when the first ZERO record fills up.
    const mappedCount = 67000;
    const pages = 2 * mappedCount;
    const disk = { id: 0, sectors: 64, uuid: 'shared' };
    const blocks = new ArrayBlockStore([disk]);
    fillRandom(blocks.bytes(0), 42);
    const content = blocks.sectors(0, 0, 8);
    const data = new Uint8Array(PAGE_SIZE);
    fillRandom(data, 9);
    const zero = new Uint8Array(PAGE_SIZE);
    const viewOf = (pfn: number): Uint8Array => (pfn % 2 === 1 ? content : pfn % 1000 === 0 ? data : zero);
    const pattern = (pfn: number, dst: Uint8Array) => dst.set(viewOf(pfn));
    const mappedPfns = Uint32Array.from({ length: mappedCount }, (_, i) => 2 * i + 1);
    const mapping = sortedSnapshot(mappedPfns, new Uint32Array(mappedCount), new Float64Array(mappedCount));
    const base = { disks: [disk], state: new Uint8Array(8), mapping, blocks, hasher };
    const copyingMemory = new PatternMemory(pages, pattern);
    const viewMemory = Object.assign(new PatternMemory(pages, pattern), { pageView: viewOf });
    const copied = await bytesOf(
      tmp.path('zero-copied.img'),
      { ...base, memory: copyingMemory },
      POLICIES['p2b+zero'],
    );
    const image = await bytesOf(
      tmp.path('zero-viewed.img'),
      { ...base, memory: viewMemory },
      POLICIES['p2b+zero'],
    );
    expect(Buffer.compare(image, copied)).toBe(0);
    const summary = await inspectImage(tmp.path('zero-viewed.img'));
    expect(summary.records['ZERO']?.count).toBe(2);
    expect(summary.records['PAGE_DATA']?.count).toBe(2);
    expect(summary).toMatchObject({ pagesData: 134, pagesZero: mappedCount - 134 });
  });

  it('continues after a short gathered write', async () => {
    const pages = 2500;
    const g = makeGuest({ pages, diskSectors: [64] });
    const copied = await bytesOf(tmp.path('whole.img'), inputOf(g, hasher), POLICIES.baseline);
    const original = handleProto.writev;
    let shortWrites = 0;
    vi.spyOn(handleProto, 'writev').mockImplementation(function (
      this: FileHandle,
      buffers: readonly NodeJS.ArrayBufferView[],
      position?: number,
    ) {
      // Writes only part of the second buffer: a short write that ends inside a buffer.
      if (buffers.length < 2) return original.call(this, buffers, position);
      shortWrites++;
      const second = buffers[1]!;
      const part = new Uint8Array(second.buffer, second.byteOffset, Math.ceil(second.byteLength / 3));
      return original.call(this, [buffers[0]!, part], position);
    });
    const memory = viewed(g.memory, runs(pages));
    const image = await bytesOf(tmp.path('short.img'), { ...inputOf(g, hasher), memory }, POLICIES.baseline);
    expect(shortWrites).toBeGreaterThan(3);
    expect(Buffer.compare(image, copied)).toBe(0);
  });

  it('leaves no image when a gathered write fails midway', async () => {
    const pages = 10000; // 39 MiB: two gathered writes
    const g = makeGuest({ pages, diskSectors: [4096], mapped: [{ pfn: 10, disk: 0, sector: 0 }] });
    const original = handleProto.writev;
    let calls = 0;
    vi.spyOn(handleProto, 'writev').mockImplementation(function (
      this: FileHandle,
      buffers: readonly NodeJS.ArrayBufferView[],
      position?: number,
    ) {
      if (++calls === 2) return Promise.reject(new Error('ENOSPC: no space left on device, write'));
      return original.call(this, buffers, position);
    });
    const memory = viewed(g.memory, chunked(pages, 700));
    const path = tmp.path('failed.img');
    for (const policy of [POLICIES.baseline, POLICIES.p2b]) {
      calls = 0;
      const error = await writeImage(path, { ...inputOf(g, hasher), memory }, policy).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toBe(
        `Cannot write image ${path}: ENOSPC: no space left on device, write`,
      );
      expect((await tmp.files()).filter((f) => f.startsWith('failed.img'))).toEqual([]);
    }
  });

  it('leaves no image when a page view fails midway', async () => {
    const pages = 3000;
    const g = makeGuest({ pages, diskSectors: [64] });
    const inner = viewed(g.memory, chunked(pages, pages));
    const memory: GuestMemory = {
      ...inner,
      pageView: (pfn) => {
        if (pfn === 2500) throw new Error(`guest memory unavailable at page ${pfn}`);
        return inner.pageView!(pfn);
      },
    };
    const path = tmp.path('unavailable.img');
    await expect(writeImage(path, { ...inputOf(g, hasher), memory }, POLICIES.baseline)).rejects.toThrow(
      `Cannot write image ${path}: guest memory unavailable at page 2500`,
    );
    expect((await tmp.files()).filter((f) => f.startsWith('unavailable.img'))).toEqual([]);
  });

  it('refuses a page view that is not one page long', async () => {
    const g = makeGuest({ pages: 4, diskSectors: [64] });
    const memory: GuestMemory = {
      pageCount: 4,
      readPage: (pfn, dst) => g.memory.readPage(pfn, dst),
      writePage: (pfn, src) => g.memory.writePage(pfn, src),
      pageView: () => new Uint8Array(100),
    };
    await expect(
      writeImage(tmp.path('short-view.img'), { ...inputOf(g, hasher), memory }, POLICIES.baseline),
    ).rejects.toThrow(/page view of pfn 0 has 100 bytes/);
  });
});

describe('RecordSink with outside parts', () => {
  /** Random records, some with parts from outside the buffer, through a small sink and by hand. */
  it('emits the same bytes as framing each record whole, across buffer boundaries', async () => {
    for (const capacity of [64, 100, 256, 1000]) {
      const path = tmp.path(`sink-${capacity}.bin`);
      const file = await open(path, 'w+');
      const sink = new RecordSink(file, hasher, { capacity });
      const expected: Uint8Array[] = [];
      let seed = capacity;
      const next = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      try {
        for (let r = 0; r < 200; r++) {
          const kind = next(3);
          const headLength = next(Math.min(capacity - 32, 40)) + 1;
          if (kind === 0) {
            const body = new Uint8Array(headLength);
            fillRandom(body, r + 1);
            await sink.putRecord(RecordType.STATE, body);
            expected.push(frameRecord(RecordType.STATE, body, hasher));
          } else {
            const head = new Uint8Array(headLength);
            fillRandom(head, 1000 + r);
            const parts = Array.from({ length: next(4) }, (_, k) => {
              const part = new Uint8Array(next(300));
              fillRandom(part, 7 * r + k + 1);
              return part;
            });
            const partsLength = parts.reduce((n, p) => n + p.length, 0);
            const at = await sink.reservePieces(headLength, partsLength);
            sink.buf.set(head, at);
            sink.commitPieces(RecordType.PAGE_DATA, headLength, parts, partsLength);
            const body = Buffer.concat([head, ...parts]);
            expected.push(frameRecord(RecordType.PAGE_DATA, body, hasher));
            expect(framedSize(body.length)).toBe(expected.at(-1)!.length);
          }
        }
        const end = await sink.finish();
        const want = Buffer.concat(expected);
        expect(end).toBe(want.length);
        expect(sink.position).toBe(want.length);
      } finally {
        await sink.settle();
        await file.close();
      }
      expect(Buffer.compare(await readFile(path), Buffer.concat(expected))).toBe(0);
    }
  });

  it('refuses parts that do not add up to the length reserved', async () => {
    const file = await open(tmp.path('sink-mismatch.bin'), 'w+');
    try {
      const sink = new RecordSink(file, hasher, { capacity: 256 });
      await sink.reservePieces(8, 10);
      expect(() => sink.commitPieces(RecordType.PAGE_DATA, 8, [new Uint8Array(9)], 10)).toThrow(
        /parts hold 9 bytes, not 10/,
      );
    } finally {
      await file.close();
    }
  });
});
