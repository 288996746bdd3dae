import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { baselineImageBytes, imageBytes, POLICIES, writeImage } from '../../../core/image/index.ts';
import { inputOf, makeGuest, tempDir } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  dir = await tempDir();
});
afterAll(() => dir.cleanup());

describe('image size without writing', () => {
  it('equals the size of the written image, for every policy', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2100 }), fc.nat(), async (pages, seed) => {
        const mapped = Array.from({ length: Math.min(pages, 70) }, (_, i) => ({
          pfn: i * 2 < pages ? i * 2 : i,
          disk: 0,
          sector: i * 8,
        })).filter((m, i, a) => a.findIndex((x) => x.pfn === m.pfn) === i);
        const zeroPages = Array.from({ length: pages }, (_, i) => i).filter(
          (i) => i % 7 === 3 && !mapped.some((m) => m.pfn === i),
        );
        const g = makeGuest({ pages, seed, diskSectors: [4096], mapped, zeroPages });
        for (const [name, policy] of Object.entries(POLICIES)) {
          const path = dir.path(`size-${readdirSync(dir.dir).length}.lckpt`);
          const s = await writeImage(path, inputOf(g, hasher), policy);
          const zeroExtents = s.zeroExtents;
          const want = imageBytes({
            disks: g.disks,
            stateBytes: g.state.length,
            pagesMapped: s.pagesMapped,
            zeroExtents,
            pagesData: s.pagesData,
          });
          expect(s.bytes, name).toBe(want);
          if (name === 'baseline') expect(s.bytes).toBe(baselineImageBytes(pages, g.disks, g.state.length));
        }
      }),
      { numRuns: 15 },
    );
  });
});
