import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { SECTORS_PER_PAGE } from '../../../core/ports.ts';
import { inputOf, makeGuest, targetOf, tempDir, type GuestSpec } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

/** Small guests with 1-2 disks, random (also unaligned, overlapping, shared) mappings and zero pages. */
const guestSpec: fc.Arbitrary<GuestSpec> = fc
  .record({
    pages: fc.integer({ min: 1, max: 24 }),
    diskSectors: fc.array(fc.integer({ min: SECTORS_PER_PAGE, max: 200 }), { minLength: 1, maxLength: 2 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .chain(({ pages, diskSectors, seed }) => {
    const place = fc
      .nat(diskSectors.length - 1)
      .chain((disk) =>
        fc.record({ disk: fc.constant(disk), sector: fc.nat(diskSectors[disk]! - SECTORS_PER_PAGE) }),
      );
    return fc.record({
      pages: fc.constant(pages),
      diskSectors: fc.constant(diskSectors),
      seed: fc.constant(seed),
      mapped: fc.uniqueArray(
        fc.record({ pfn: fc.nat(pages - 1), at: place }).map(({ pfn, at }) => ({ pfn, ...at })),
        { selector: (m) => m.pfn, maxLength: pages },
      ),
      zeroPages: fc.uniqueArray(fc.nat(pages - 1), { maxLength: pages }),
      zeroSectors: fc.array(
        place.map(({ disk, sector }) => [disk, sector, SECTORS_PER_PAGE] as const),
        { maxLength: 2 },
      ),
    });
  });

describe('image round trip', () => {
  for (const name of ['baseline', 'p2b', 'p2b+zero'] as const) {
    it(`restores a ${name} image byte for byte, state included`, async () => {
      await fc.assert(
        fc.asyncProperty(guestSpec, async (spec) => {
          const guest = makeGuest(spec);
          const path = tmp.path(`roundtrip-${name}.img`);
          const policy = POLICIES[name];
          const written = await writeImage(path, inputOf(guest, hasher), policy);
          const target = targetOf(guest, hasher);
          const restored = await restoreImage(path, target);

          expect(Buffer.compare(target.memory.bytes, guest.memory.bytes)).toBe(0);
          expect(restored.state).toEqual(guest.state);
          expect(written.pagesDemoted).toBe(0);
          expect(written.pagesMapped + written.pagesZero + written.pagesData).toBe(spec.pages);
          expect(restored).toMatchObject({
            pagesMapped: written.pagesMapped,
            pagesZero: written.pagesZero,
            pagesData: written.pagesData,
            bytesReadImage: written.bytes,
          });
          expect(written.pagesMapped).toBe(policy.useMap ? guest.mapping.length : 0);
          if (!policy.elideZero) expect(written.pagesZero).toBe(0);
          const summary = await inspectImage(path);
          expect(summary).toMatchObject({ bytes: written.bytes, pageCount: spec.pages, disks: guest.disks });
        }),
        { numRuns: 100 },
      );
    });
  }
});
