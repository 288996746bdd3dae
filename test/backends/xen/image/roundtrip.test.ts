import { open, readFile, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreError } from '../../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { rebuildXenStream, verifyXenImage } from '../../../../backends/xen/image/rebuild.ts';
import { SaveStreamParser } from '../../../../backends/xen/stream/parser.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { digestChunks } from '../../../../backends/xen/content/chunk-hashes.ts';
import type { XenDiskHash } from '../../../../backends/xen/image/format.ts';
import { XenImageReader } from '../../../../backends/xen/image/reader.ts';
import { XenImageWriter } from '../../../../backends/xen/image/writer.ts';
import { MemoryDisks } from '../fixtures/disks.ts';
import { arbGuestShape, buildGuest, everyKind, saveGuestImage, type Guest } from '../fixtures/guest.ts';
import { chunked, streamBytes, streamPieces } from '../fixtures/stream-fixture.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-xen-image-');
});
afterAll(() => tmp.cleanup());

async function save(g: Guest, name: string) {
  const path = tmp.path(name);
  return { path, stats: await saveGuestImage(path, g, hasher) };
}

async function rebuild(g: Guest, path: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await rebuildXenStream(path, g.disks, hasher, async (b) => void parts.push(b.slice()));
  return Buffer.concat(parts);
}

/** What the filter must decide, computed independently from the parsed stream. */
async function expectedCounts(g: Guest) {
  const counts = { slots: 0, zero: 0, mapped: 0 };
  const disk = g.disks.bytes.get(g.diskId)!;
  for await (const e of new SaveStreamParser(chunked(streamPieces(g.spec))).events()) {
    if (e.kind !== 'pages') continue;
    for (let i = 0; i < e.batch.count; i++) {
      counts.slots++;
      const page = e.batch.data.subarray(i * 4096, (i + 1) * 4096);
      const where = g.map.get(e.batch.pfns[i]!);
      if (page.every((b) => b === 0)) counts.zero++;
      else if (
        where &&
        e.batch.types[i] === 0 &&
        Buffer.compare(page, disk.subarray(where.sector * 512, where.sector * 512 + 4096)) === 0
      )
        counts.mapped++;
    }
  }
  return counts;
}

const fixed = everyKind(300, 13, 64, 5);

describe('Xen image: rebuild(filter(stream)) is the stream, byte for byte', () => {
  it('holds for generated PV and HVM streams of every shape', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(arbGuestShape(), async (shape) => {
        const g = buildGuest(shape, hasher);
        const original = streamBytes(g.spec);
        const { path, stats } = await save(g, `p${n++}.lcxen`);
        expect(Buffer.compare(await rebuild(g, path), original)).toBe(0);
        const want = await expectedCounts(g);
        expect({ slots: stats.pageSlots, zero: stats.pagesZero, mapped: stats.pagesMapped }).toEqual(want);
        expect(stats.pagesKept).toBe(want.slots - want.zero - want.mapped);
        expect(stats.streamBytes).toBe(original.length);
        expect(stats.imageBytes).toBe((await readFile(path)).length);
      }),
      { numRuns: 40 },
    );
  });

  it('leaves out mapped and zero pages and keeps stale, unmapped and page-table pages', async () => {
    for (const guest of ['pv', 'hvm'] as const) {
      const g = buildGuest({ ...fixed, guest }, hasher);
      const { path, stats } = await save(g, `fixed-${guest}.lcxen`);
      // 300 pages: 50 of each kind. HVM has no page tables, so its 'table' pages are ordinary and mapped.
      expect(stats.pagesZero).toBe(50);
      expect(stats.pagesMapped).toBe(guest === 'pv' ? 50 : 100);
      expect(stats.pagesDemoted).toBe(100);
      expect(stats.pagesNotOrdinary).toBe(guest === 'pv' ? 50 : 0);
      expect(stats.pagesKept).toBe(300 - stats.pagesZero - stats.pagesMapped);
      const original = streamBytes(g.spec);
      expect(stats.imageBytes).toBeLessThan(original.length - (stats.pagesZero + stats.pagesMapped) * 4000);
      expect(Buffer.compare(await rebuild(g, path), original)).toBe(0);
      const v = await verifyXenImage(path, g.disks, hasher);
      expect(v.pagesMapped).toBe(stats.pagesMapped);
      expect(v.end.guest).toBe(guest);
    }
  });
});

describe('Xen image: a changed disk is refused, naming page and sector', () => {
  it('refuses before rebuilding when a referenced range changed', async () => {
    const g = buildGuest(fixed, hasher);
    const { path } = await save(g, 'changed.lcxen');
    const where = g.map.get(1)!; // pfn 1 is a 'disk' page
    const disk = g.disks.bytes.get(g.diskId)!;
    disk[(where.sector + 3) * 512 + 7] = disk[(where.sector + 3) * 512 + 7]! ^ 1;
    const err = await verifyXenImage(path, g.disks, hasher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^page 1 \\(disk ${g.diskId}, sector ${where.sector}\\): content hash mismatch, the disk changed since the save`,
      ),
    );
    const again = await rebuild(g, path).catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/^page 1 \(disk 51712/);
  });

  it('refuses a disk of another identity or size, or a missing disk', async () => {
    const g = buildGuest(fixed, hasher);
    const { path } = await save(g, 'identity.lcxen');
    // A byte no page refers to changed: only the whole-content hash can tell.
    const other = buildGuest(fixed, hasher);
    const bytes = other.disks.bytes.get(other.diskId)!;
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    const changed = MemoryDisks.of([{ id: other.diskId, bytes }], hasher);
    await expect(verifyXenImage(path, changed, hasher)).rejects.toThrow(
      /^disk 51712 \(xvd51712\): its content is not the one the image was saved with \(xxh64\/2048:[0-9a-f]{16}, expected xxh64\/2048:[0-9a-f]{16}\)$/,
    );
    const small = MemoryDisks.of([{ id: other.diskId, bytes: bytes.subarray(0, 512 * 1024) }], hasher);
    await expect(verifyXenImage(path, small, hasher)).rejects.toThrow(
      /^disk 51712 \(xvd51712\): 1024 sectors given, the image was saved with 2048$/,
    );
    const none = buildGuest(fixed, hasher, 51728);
    await expect(verifyXenImage(path, none.disks, hasher)).rejects.toThrow(
      /disk 51712 \(xvd51712, saved from .*\) was not given/,
    );
  });
});

describe('Xen image: corruption and truncation are refused', () => {
  it('refuses every truncation and any flipped byte', async () => {
    const g = buildGuest(
      { ...fixed, kinds: fixed.kinds.slice(0, 40), offsets: fixed.offsets.slice(0, 40) },
      hasher,
    );
    const { path } = await save(g, 'good.lcxen');
    const good = await readFile(path);
    const bad = tmp.path('bad.lcxen');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.boolean(), async (at, truncate) => {
        const bytes = truncate ? good.subarray(0, at) : Uint8Array.from(good);
        if (!truncate) bytes[at] = bytes[at]! ^ 0x10;
        await writeFile(bad, bytes);
        await expect(verifyXenImage(bad, g.disks, hasher)).rejects.toThrow(
          /bad magic|truncated|checksum mismatch|Unsupported Xen image version|ends without an END/,
        );
      }),
      { numRuns: 80 },
    );
  });
});

describe('Xen image: each disk’s chunk hashes and file identity (minor 2)', () => {
  const SECTORS = 200_000; // with 1-sector chunks: 200000 chunk hashes, two DISK_CHUNKS records
  const file = {
    dev: 2049n,
    ino: 1n << 40n,
    size: BigInt(SECTORS * 512),
    mtimeNs: 5n,
    ctimeNs: 6n,
    settledNs: 7n,
  };
  const chunksOf = (n: number) =>
    BigUint64Array.from({ length: n }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn);

  /** An image of disk 51712 and no stream, recording `hash` for it. */
  async function recordOnly(name: string, hash: XenDiskHash): Promise<string> {
    const path = tmp.path(name);
    const f = await open(path, 'w');
    try {
      const w = new XenImageWriter(f, hasher);
      await w.begin([{ id: 51712, sectors: SECTORS, vdev: 'xvda', path: '/srv/a.img' }]);
      const end = {
        streamBytes: 0,
        streamHash: 0n,
        pageSlots: 0,
        pagesMapped: 0,
        pagesZero: 0,
        guest: 'pv',
      } as const;
      await w.finish(end, [hash]);
    } finally {
      await f.close();
    }
    return path;
  }

  async function readAll(path: string): Promise<XenImageReader> {
    const r = await XenImageReader.open(path, hasher);
    for await (const _ of r.items());
    return r;
  }

  it('reads back what the save recorded, over more than one DISK_CHUNKS record', async () => {
    const chunks = chunksOf(SECTORS);
    const path = await recordOnly('recorded.lcxen', {
      id: 51712,
      chunkSectors: 1,
      hash: digestChunks(hasher, chunks),
      chunks,
      file,
    });
    const r = await readAll(path);
    expect(r.version).toEqual({ major: 1, minor: 2 });
    const c = r.diskHashes.get(51712)!;
    expect(c.chunks).toEqual(chunks);
    expect(c.file).toEqual(file);
  });

  it('refuses chunk hashes that do not digest to the content hash, or do not cover the disk', async () => {
    const chunks = chunksOf(SECTORS);
    const base = { id: 51712, chunkSectors: 1, hash: digestChunks(hasher, chunks) };
    await expect(
      readAll(await recordOnly('a.lcxen', { ...base, hash: base.hash ^ 1n, chunks })),
    ).rejects.toThrow(/^DISK_CHUNKS for disk 51712: the chunks' hashes do not digest to its content hash/);
    const short = chunks.subarray(0, SECTORS - 1);
    await expect(readAll(await recordOnly('b.lcxen', { ...base, chunks: short }))).rejects.toThrow(
      /^disk 51712: its DISK_CHUNKS are incomplete/,
    );
    const long = chunksOf(SECTORS + 1);
    await expect(readAll(await recordOnly('c.lcxen', { ...base, chunks: long }))).rejects.toThrow(
      /^DISK_CHUNKS for disk 51712: chunks 131072\.\. out of order or beyond its 200000/,
    );
  });

  it('refuses a file identity whose size is not the disk’s', async () => {
    const chunks = chunksOf(SECTORS);
    const hash = { id: 51712, chunkSectors: 1, hash: digestChunks(hasher, chunks), chunks };
    await expect(
      readAll(await recordOnly('d.lcxen', { ...hash, file: { ...file, size: 512n } })),
    ).rejects.toThrow(/^DISK_FILE for disk 51712: 512 bytes, its DISK record says 102400000/);
  });
});
