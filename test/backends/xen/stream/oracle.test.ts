import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { oracle, rebuildToFile } from '../../../../backends/xen/commands/tools.ts';
import { writeXenImage } from '../../../../backends/xen/image/save-image.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { buildGuest, DISK_ID, type Guest, type PageKind } from '../fixtures/guest.ts';
import { chunked, streamBytes, streamPieces } from '../fixtures/stream-fixture.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let g: Guest;
const vdev = `xvd${DISK_ID}`;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-xen-oracle-');
  // 8 kinds x 25: 'disk' pages sit at any 512 B offset; 'table' pages equal the disk but are page tables.
  const kinds: PageKind[] = ['zero', 'disk', 'disk', 'stale', 'random', 'random-mapped', 'table', 'disk'];
  g = buildGuest(
    {
      guest: 'pv',
      kinds: Array.from({ length: 200 }, (_, i) => kinds[i % 8]!),
      offsets: Array.from({ length: 200 }, (_, i) => i * 9 + 1),
      batch: 50,
      libxcVersion: 3,
      checkpoints: 0,
      verify: false,
      optionalRecords: false,
      seed: 8,
    },
    hasher,
  );
  await writeFile(tmp.path('disk.raw'), g.disks.bytes.get(DISK_ID)!);
  await writeFile(tmp.path('stream'), streamBytes(g.spec));
});
afterAll(() => tmp.cleanup());

describe('the oracle over a save stream', () => {
  it('finds every page equal to a disk range at 512 B steps, page tables apart', async () => {
    const r = await oracle(tmp.path('stream'), { xvda: tmp.path('disk.raw') });
    expect(r).toMatchObject({ pages: 200, zeroPages: 25, matchedPages: 100, matchedOrdinary: 75 });
  });

  it("measures a save's capture ratio, and the image rebuilds to the stream", async () => {
    // A tracker that missed a third of the disk pages.
    const missed = [...g.map.entries.keys()].filter((pfn) => pfn % 8 === 1);
    for (const pfn of missed) g.map.entries.delete(pfn);
    const image = tmp.path('g.lcxen');
    await writeXenImage(image, {
      stream: chunked(streamPieces(g.spec)),
      map: g.map,
      blocks: g.disks,
      disks: g.disks.xenDisks(),
      diskHashes: Promise.resolve(g.disks.contentHashes(hasher)),
      hasher,
    });
    const r = await oracle(image, { [vdev]: tmp.path('disk.raw') });
    expect(r).toMatchObject({ matchedOrdinary: 75, pagesMapped: 50 });
    expect(r.capture).toBeCloseTo(50 / 75, 10);
    const rebuilt = await rebuildToFile(image, tmp.path('rebuilt'), { [vdev]: tmp.path('disk.raw') });
    expect(Buffer.compare(await readFile(tmp.path('rebuilt')), await readFile(tmp.path('stream')))).toBe(0);
    expect(rebuilt.bytes).toBe(streamBytes(g.spec).length);
  });
});
