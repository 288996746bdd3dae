import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError } from '../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../core/hash.ts';
import { encodeFileHeader } from '../../core/image/file-header.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../core/image/index.ts';
import { inputOf, makeGuest, targetOf, tempDir, type Guest } from '../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let guest: Guest;
let image: Uint8Array;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-corrupt-');
  guest = makeGuest({
    pages: 6,
    diskSectors: [64],
    mapped: [{ pfn: 1, disk: 0, sector: 8 }],
    zeroPages: [3],
  });
  await writeImage(tmp.path('good.img'), inputOf(guest, hasher), POLICIES['p2b+zero']);
  image = new Uint8Array(await readFile(tmp.path('good.img'))); // a copy: Buffer.slice would share
});
afterAll(() => tmp.cleanup());

async function restoreBytes(bytes: Uint8Array): Promise<unknown> {
  const path = tmp.path('bad.img');
  await writeFile(path, bytes);
  const target = targetOf(guest, hasher);
  return restoreImage(path, target).then(
    () => undefined,
    (e: unknown) => {
      // A header problem is found before any page is touched.
      expect(target.memory.bytes.every((b) => b === 0xaa)).toBe(true);
      return e;
    },
  );
}

function expectFormatError(error: unknown, message: RegExp, offset: number): void {
  expect(error).toBeInstanceOf(ImageFormatError);
  expect(error).toMatchObject({ record: 'header', offset });
  expect((error as Error).message).toMatch(message);
}

describe('file header corruption', () => {
  it('rejects a bad magic', async () => {
    const bytes = image.slice();
    bytes[1] = 0x4d;
    expectFormatError(await restoreBytes(bytes), /^Not a leanckpt image: bad magic$/, 0);
  });

  it('rejects a text-mode transfer (CR LF turned into LF) as a bad magic', async () => {
    const bytes = new Uint8Array([...image.subarray(0, 6), 0x0a, ...image.subarray(8)]);
    expectFormatError(await restoreBytes(bytes), /bad magic/, 0);
  });

  it('rejects files that are not images, including an empty one', async () => {
    expectFormatError(await restoreBytes(new TextEncoder().encode('hello, world\n')), /bad magic/, 0);
    expectFormatError(await restoreBytes(new Uint8Array(0)), /bad magic/, 0);
  });

  it('rejects an image of another major version, naming both versions', async () => {
    const bytes = image.slice();
    bytes.set(encodeFileHeader(hasher, { major: 2, minor: 0 }));
    expectFormatError(
      await restoreBytes(bytes),
      /^Unsupported image version 2\.0: this build reads version 1\.x$/,
      8,
    );
  });

  it('accepts a newer minor version of the same major', async () => {
    const bytes = image.slice();
    bytes.set(encodeFileHeader(hasher, { major: 1, minor: 7 }));
    expect(await restoreBytes(bytes)).toBeUndefined();
    expect((await inspectImage(tmp.path('bad.img'))).version).toEqual({ major: 1, minor: 7 });
  });

  it('rejects a header whose checksum does not match, even in the reserved field', async () => {
    const bytes = image.slice();
    bytes[13] = 1;
    expectFormatError(
      await restoreBytes(bytes),
      /^File header checksum mismatch \(stored 0x[0-9a-f]{16}, computed 0x[0-9a-f]{16}\)$/,
      16,
    );
  });

  it('rejects a file cut inside the header', async () => {
    expectFormatError(
      await restoreBytes(image.slice(0, 20)),
      /^Image truncated in the file header: 20 bytes, expected 24$/,
      20,
    );
  });
});
