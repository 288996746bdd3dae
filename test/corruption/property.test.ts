/**
 * Every byte of an image is covered by a checksum and every structural fact is checked, so no single
 * corruption can load silently: flipping any byte, or cutting the file anywhere, makes both restore and
 * inspect refuse.
 */
import { readFile, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError, RestoreError } from '../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../core/hash.ts';
import { RecordType } from '../../core/image/format.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../core/image/index.ts';
import { pageDataPagesOffset } from '../../core/image/records/page-data.ts';
import { inputOf, makeGuest, splitImage, targetOf, tempDir, type Guest } from '../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let guest: Guest;
let image: Uint8Array;
/** Offset of the first page byte: everything before it is headers, metadata and small records. */
let pagesStart: number;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-property-');
  guest = makeGuest({
    pages: 6,
    diskSectors: [64, 32],
    mapped: [
      { pfn: 0, disk: 0, sector: 3 },
      { pfn: 4, disk: 1, sector: 16 },
    ],
    zeroPages: [2],
    state: Uint8Array.of(9, 8, 7, 6, 5),
  });
  await writeImage(tmp.path('good.img'), inputOf(guest, hasher), POLICIES['p2b+zero']);
  image = new Uint8Array(await readFile(tmp.path('good.img')));
  const pd = splitImage(image).find((r) => r.type === RecordType.PAGE_DATA)!;
  pagesStart = pd.at! + 8 + pageDataPagesOffset(3);
});
afterAll(() => tmp.cleanup());

/** Restores and inspects `bytes`; both must refuse with a format or restore error. */
async function refusedEverywhere(bytes: Uint8Array): Promise<boolean> {
  const path = tmp.path('mutant.img');
  await writeFile(path, bytes);
  const isRefusal = (e: unknown) => e instanceof ImageFormatError || e instanceof RestoreError;
  const restored = await restoreImage(path, targetOf(guest, hasher)).then(
    () => false,
    (e: unknown) => isRefusal(e),
  );
  const inspected = await inspectImage(path).then(
    () => false,
    (e: unknown) => e instanceof ImageFormatError,
  );
  return restored && inspected;
}

describe('no single corruption loads', () => {
  it('the unmodified image restores', async () => {
    const target = targetOf(guest, hasher);
    await restoreImage(tmp.path('good.img'), target);
    expect(Buffer.compare(target.memory.bytes, guest.memory.bytes)).toBe(0);
  });

  it('flipping any bits of any single byte makes restore and inspect throw', async () => {
    // Half the offsets among the structural bytes, which a uniform choice would rarely hit.
    const offset = fc.oneof(fc.nat(image.length - 1), fc.nat(pagesStart - 1));
    await fc.assert(
      fc.asyncProperty(offset, fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const bytes = image.slice();
        bytes[at]! ^= mask;
        expect(await refusedEverywhere(bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('truncating at any offset makes restore and inspect throw', async () => {
    const cut = fc.oneof(fc.nat(image.length - 1), fc.nat(pagesStart));
    await fc.assert(
      fc.asyncProperty(cut, async (length) => {
        expect(await refusedEverywhere(image.slice(0, length))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('flipping a bit in each structural byte, one at a time, is always refused', async () => {
    const structural = [
      ...Array.from({ length: pagesStart }, (_, i) => i),
      ...Array.from({ length: 80 }, (_, i) => image.length - 80 + i),
    ];
    for (const at of structural) {
      const bytes = image.slice();
      bytes[at]! ^= 1 << (at % 8);
      expect(await refusedEverywhere(bytes), `flip at offset ${at}`).toBe(true);
    }
  });
});
