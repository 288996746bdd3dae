/**
 * A 64 MiB stream (16384 pages, the shape of a 64 MiB guest) through save and rebuild with memory
 * sampled after forced garbage collections: what stays retained (fixed buffers of a few MiB: one
 * PAGE_DATA record, one image record, one disk run) must stay well below the stream size.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { rebuildXenStream, verifyXenImage } from '../../../../backends/xen/image/rebuild.ts';
import { writeXenImage } from '../../../../backends/xen/image/save-image.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { buildGuest, cyclingGuest, type PageKind } from '../fixtures/guest.ts';
import { chunked, streamPieces } from '../fixtures/stream-fixture.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1 << 20;
/** Live heap plus buffers, after a full collection and a turn for freed buffers to be released. */
const retained = async (): Promise<number> => {
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-xen-large-');
});
afterAll(() => tmp.cleanup());

describe('a 64 MiB save stream', () => {
  it('is saved and rebuilt byte for byte in bounded memory', async () => {
    const pages = 16384;
    const kinds: PageKind[] = ['zero', 'zero', 'zero', 'zero', 'disk', 'disk', 'random', 'random'];
    const g = buildGuest(cyclingGuest('hvm', kinds, pages, 2000, 11), hasher);
    const baseline = await retained();
    let peak = 0;
    let chunks = 0;
    const original = hasher.streaming();
    let bytes = 0;
    async function* input(): AsyncGenerator<Uint8Array> {
      for await (const c of chunked(streamPieces(g.spec), 1 << 16)) {
        original.update(c);
        bytes += c.length;
        if (++chunks % 128 === 0) peak = Math.max(peak, (await retained()) - baseline);
        yield c;
      }
    }
    const path = tmp.path('large.lcxen');
    const stats = await writeXenImage(path, {
      stream: input(),
      map: g.map,
      blocks: g.disks,
      disks: g.disks.xenDisks(),
      diskHashes: Promise.resolve(g.disks.contentHashes(hasher)),
      hasher,
    });
    expect(bytes).toBeGreaterThan(64 * MiB);
    expect(stats.streamHash).toBe(original.digest());
    expect(stats).toMatchObject({ pageSlots: pages, pagesZero: pages / 2, pagesMapped: pages / 4 });
    expect(stats.imageBytes).toBeLessThan(bytes * 0.27);
    expect(peak).toBeLessThan(32 * MiB);

    await verifyXenImage(path, g.disks, hasher);
    const rebuilt = hasher.streaming();
    let rebuiltBytes = 0;
    let sinks = 0;
    peak = 0;
    const r = await rebuildXenStream(path, g.disks, hasher, async (b) => {
      rebuilt.update(b);
      rebuiltBytes += b.length;
      if (++sinks % 64 === 0) peak = Math.max(peak, (await retained()) - baseline);
    });
    expect(rebuiltBytes).toBe(bytes);
    expect(r.hash).toBe(stats.streamHash);
    expect(rebuilt.digest()).toBe(stats.streamHash);
    expect(peak).toBeLessThan(32 * MiB);
  });
});
