/**
 * The direct fill: a sparse stream (every left-out page an XALLOC entry, nothing else changed) that
 * xl's restore accepts, plus the fill, must leave guest memory exactly as the original stream would;
 * and a changed disk is refused, naming page and sector, without leaving a mapping behind.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreError } from '../../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { fillGuestMemory } from '../../../../backends/xen/fill.ts';
import { sparseXenStream } from '../../../../backends/xen/image/sparse.ts';
import { SaveStreamParser } from '../../../../backends/xen/stream/parser.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import {
  arbGuestShape,
  buildGuest,
  cyclingGuest,
  everyKind,
  saveGuestImage,
  type Guest,
} from '../fixtures/guest.ts';
import { chunked, streamPieces } from '../fixtures/stream-fixture.ts';
import { MemoryGuest } from '../support/memory-guest.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-xen-sparse-');
});
afterAll(() => tmp.cleanup());

let n = 0;
async function save(g: Guest): Promise<{ path: string; mapped: number; zero: number }> {
  const path = tmp.path(`s${n++}.lcxen`);
  const stats = await saveGuestImage(path, g, hasher);
  return { path, mapped: stats.pagesMapped, zero: stats.pagesZero };
}

async function sparse(path: string) {
  const parts: Uint8Array[] = [];
  const r = await sparseXenStream(path, hasher, async (b) => void parts.push(b.slice()));
  return { ...r, stream: Buffer.concat(parts) };
}

async function summary(stream: AsyncIterable<Uint8Array>) {
  const p = new SaveStreamParser(stream);
  for await (const e of p.events()) void e;
  return p.summary;
}

const once = async function* (b: Uint8Array) {
  yield b;
};

const fixed = everyKind(240, 8, 50, 9);

describe('Xen image: sparse stream + direct fill = the original memory', () => {
  it('holds for generated PV and HVM streams of every shape', async () => {
    await fc.assert(
      fc.asyncProperty(arbGuestShape(), async (shape) => {
        const g = buildGuest(shape, hasher);
        const { path, mapped, zero } = await save(g);
        if (shape.verify) {
          await expect(sparse(path)).rejects.toThrow(/VERIFY record; restore it with --fill stream/);
          return;
        }
        const s = await sparse(path);
        const original = await summary(chunked(streamPieces(g.spec)));
        const got = await summary(once(s.stream));
        // Xen's restore checks (the parser mirrors them) accept it; every entry is still there, and only
        // the left-out pages lost their data.
        expect(got.pageEntries).toBe(original.pageEntries);
        expect(got.pagesWithData).toBe(original.pagesWithData - mapped - zero);
        expect(s.bytes).toBe(s.stream.length);
        // Where a PV guest's p2m will be once xl has restored it: the fixture's X86_PV_P2M_FRAMES.
        if (shape.guest === 'pv') {
          const frames = Math.ceil(shape.kinds.length / 512);
          expect(s.p2m).toEqual({
            width: 8,
            endPfn: shape.kinds.length - 1,
            pfns: Float64Array.from({ length: frames }, (_, i) => 1000 + i),
          });
        } else expect(s.p2m).toBeUndefined();
        expect(s.bytes).toBe(original.bytes - 4096 * (mapped + zero));
        for (const [k, t] of original.records)
          if (!k.endsWith('PAGE_DATA')) expect(got.records.get(k)).toEqual(t);

        const memory = await MemoryGuest.fromStream(once(s.stream));
        const r = await fillGuestMemory(s.plan, memory, g.disks, hasher);
        const want = await MemoryGuest.fromStream(chunked(streamPieces(g.spec)));
        expect([...memory.pages.keys()].sort((a, b) => a - b)).toEqual(
          [...want.pages.keys()].sort((a, b) => a - b),
        );
        for (const [pfn, page] of want.pages)
          expect(Buffer.compare(memory.pages.get(pfn)!, page), `pfn ${pfn}`).toBe(0);
        expect(memory.mapped).toBe(0);
        expect(r.pagesFromDisk + r.zeroPages).toBeLessThanOrEqual(mapped + zero);
      }),
      { numRuns: 40 },
    );
  });

  it('holds for an image read in many chunks, its sink slower than the read-ahead', async () => {
    // A 24 MiB stream whose 12 MiB image spans several of the reader's 4 MiB chunks, each read ahead
    // into a reused buffer: a byte the walker handed on after its chunk was reused would show here.
    const pages = 6144;
    const g = buildGuest(cyclingGuest('hvm', ['random', 'random', 'disk', 'zero'], pages, 4000, 5), hasher);
    const { path, zero } = await save(g);
    expect(zero).toBe(pages / 4);
    const parts: Uint8Array[] = [];
    const r = await sparseXenStream(path, hasher, async (b) => {
      parts.push(b.slice());
      await new Promise((done) => setImmediate(done));
    });
    const memory = await MemoryGuest.fromStream(once(Buffer.concat(parts)));
    await fillGuestMemory(r.plan, memory, g.disks, hasher);
    const want = await MemoryGuest.fromStream(chunked(streamPieces(g.spec)));
    expect(memory.pages.size).toBe(want.pages.size);
    for (const [pfn, page] of want.pages)
      expect(Buffer.compare(memory.pages.get(pfn)!, page), `pfn ${pfn}`).toBe(0);
  });

  it("leaves out exactly the image's mapped and zero ordinary pages; a zero page table keeps its data", async () => {
    const g = buildGuest(fixed, hasher);
    const { path, mapped, zero } = await save(g);
    const s = await sparse(path);
    expect(s.plan.mapped.length).toBe(mapped);
    expect(s.plan.zero.length).toBe(zero);
    expect([...s.plan.mapped.pfn].every((pfn) => ['disk', 'table'].includes(fixed.kinds[pfn]!))).toBe(true);
    expect([...s.plan.zero].every((pfn) => fixed.kinds[pfn] === 'zero')).toBe(true);
    // The image's own copy of each hash is what the fill checks against.
    const disk = g.disks.bytes.get(g.diskId)!;
    s.plan.mapped.pfn.forEach((pfn, i) => {
      const at = s.plan.mapped.sector[i]! * 512;
      expect(s.plan.mapped.hash[i]).toBe(hasher.hash64(disk.subarray(at, at + 4096)));
    });
  });

  it('refuses a page whose sectors changed, naming page and sector, and unmaps', async () => {
    const g = buildGuest(fixed, hasher);
    const { path } = await save(g);
    const s = await sparse(path);
    const i = 3;
    const pfn = s.plan.mapped.pfn[i]!;
    const sector = s.plan.mapped.sector[i]!;
    const disk = g.disks.bytes.get(g.diskId)!;
    disk[sector * 512 + 100] = disk[sector * 512 + 100]! ^ 1;
    const memory = await MemoryGuest.fromStream(once(s.stream));
    const err = await fillGuestMemory(s.plan, memory, g.disks, hasher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as Error).message).toMatch(
      new RegExp(`^page ${pfn} \\(disk ${g.diskId}, sector ${sector}\\): content hash mismatch`),
    );
    expect(memory.mapped).toBe(0);
  });

  it('unmaps and reports a page the domain cannot map, or a failed read', async () => {
    const g = buildGuest(fixed, hasher);
    const { path } = await save(g);
    const s = await sparse(path);
    const memory = await MemoryGuest.fromStream(once(s.stream));
    memory.missing.add(s.plan.zero[0]!);
    const unmappable = await fillGuestMemory(s.plan, memory, g.disks, hasher).catch((e: unknown) => e);
    // A refusal with a message (exit 1), not an internal error.
    expect(unmappable).toBeInstanceOf(RestoreError);
    expect((unmappable as Error).message).toMatch(
      /^cannot write the left-out pages into the restored domain \(pages from pfn \d+\): page \d+ cannot be mapped/,
    );
    memory.missing.clear();
    const failing = Object.create(g.disks, {
      readSectors: { value: () => Promise.reject(new Error('disk 51712: cannot read at sector 8: EIO')) },
    }) as typeof g.disks;
    await expect(fillGuestMemory(s.plan, memory, failing, hasher)).rejects.toThrow(/EIO/);
    expect(memory.mapped).toBe(0);
  });

  it('lets the last copy of a page win: a page left out, then sent again changed, is not filled', async () => {
    // Disk pages at multiples of 3: the pages the fixture's checkpoint sends again.
    const kinds = fixed.kinds.map((_, i) => (['disk', 'zero', 'random'] as const)[i % 3]!);
    const g = buildGuest({ ...fixed, kinds, checkpoints: 1 }, hasher);
    // Each pass over the stream sees a disk page as on the disk first, then (the checkpoint's dirty
    // pages) with other bytes: the first copy is left out, the later one kept.
    const varying = () => {
      const seen = new Map<number, number>();
      return {
        ...g.spec,
        content: (pfn: number) => {
          const k = seen.get(pfn) ?? 0;
          seen.set(pfn, k + 1);
          return k === 0 || kinds[pfn] !== 'disk'
            ? g.spec.content(pfn)
            : new Uint8Array(4096).fill(pfn & 0xff);
        },
      };
    };
    const path = tmp.path(`varying.lcxen`);
    await saveGuestImage(path, g, hasher, varying());
    const s = await sparse(path);
    const memory = await MemoryGuest.fromStream(once(s.stream));
    await fillGuestMemory(s.plan, memory, g.disks, hasher);
    const want = await MemoryGuest.fromStream(chunked(streamPieces(varying())));
    let changed = 0;
    for (const [pfn, page] of want.pages) {
      expect(Buffer.compare(memory.pages.get(pfn)!, page), `pfn ${pfn}`).toBe(0);
      if (kinds[pfn] === 'disk' && page[0] === (pfn & 0xff) && page.every((b) => b === page[0])) changed++;
    }
    expect(changed).toBeGreaterThan(0);
  });
});
