import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import { ArrayMemory, inputOf, makeGuest, targetOf, tempDir, type Guest } from '../../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  hasher = await loadHasher();
});
beforeEach(async () => {
  await tmp?.cleanup();
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

/** Memory that fails when page `failAt` is read: a backend losing the guest mid-checkpoint. */
class FailingMemory extends ArrayMemory {
  constructor(
    private readonly inner: ArrayMemory,
    private readonly failAt: number,
  ) {
    super(inner.pageCount);
    this.bytes.set(inner.bytes);
  }

  override readPage(pfn: number, dst: Uint8Array): void {
    if (pfn === this.failAt) throw new Error(`guest memory unavailable at page ${pfn}`);
    super.readPage(pfn, dst);
  }
}

/** 3000 pages: three PAGE_DATA records, so a failure late in the scan comes after real writes. */
function bigGuest(): Guest {
  return makeGuest({
    pages: 3000,
    diskSectors: [4096],
    mapped: [{ pfn: 10, disk: 0, sector: 0 }],
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  return error as Error;
}

describe('images are written atomically', () => {
  it('leaves neither the image nor a temporary file when reading memory fails midway', async () => {
    const g = bigGuest();
    const path = tmp.path('guest.img');
    const memory = new FailingMemory(g.memory, 2500);
    const error = await rejection(writeImage(path, { ...inputOf(g, hasher), memory }, POLICIES.p2b));
    expect(error.message).toBe(`Cannot write image ${path}: guest memory unavailable at page 2500`);
    expect(error.cause).toBeInstanceOf(Error);
    expect(await tmp.files()).toEqual([]);
  });

  it('leaves nothing when a mapped page cannot be read during planning', async () => {
    const g = bigGuest();
    const memory = new FailingMemory(g.memory, 10);
    await rejection(writeImage(tmp.path('guest.img'), { ...inputOf(g, hasher), memory }, POLICIES.p2b));
    expect(await tmp.files()).toEqual([]);
  });

  it('leaves nothing when the block store fails during verification', async () => {
    const g = bigGuest();
    const blocks = {
      disks: g.disks,
      readSectors: () => Promise.reject(new Error('snapshot vanished')),
    };
    const error = await rejection(
      writeImage(tmp.path('guest.img'), { ...inputOf(g, hasher), blocks }, POLICIES.p2b),
    );
    expect(error.message).toMatch(/: snapshot vanished$/);
    expect(await tmp.files()).toEqual([]);
  });

  it('keeps the previous image intact when writing its replacement fails', async () => {
    const g = bigGuest();
    const path = tmp.path('guest.img');
    await writeImage(path, inputOf(g, hasher), POLICIES.p2b);
    const before = await readFile(path);
    const memory = new FailingMemory(g.memory, 2999);
    await rejection(writeImage(path, { ...inputOf(g, hasher), memory }, POLICIES.baseline));
    expect(await tmp.files()).toEqual(['guest.img']);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    const target = targetOf(g, hasher);
    await restoreImage(path, target);
    expect(Buffer.compare(target.memory.bytes, g.memory.bytes)).toBe(0);
  });

  it('replaces an existing file and leaves only the image behind', async () => {
    const g = makeGuest({ pages: 4, diskSectors: [64] });
    const path = tmp.path('guest.img');
    await writeFile(path, 'old content');
    const stats = await writeImage(path, inputOf(g, hasher), POLICIES.baseline);
    expect(await tmp.files()).toEqual(['guest.img']);
    expect((await readFile(path)).length).toBe(stats.bytes);
  });

  it('fails with CheckpointError when the directory does not exist', async () => {
    const g = makeGuest({ pages: 4, diskSectors: [64] });
    const error = await rejection(
      writeImage(tmp.path('no/such/dir/guest.img'), inputOf(g, hasher), POLICIES.p2b),
    );
    expect(error.message).toMatch(/^Cannot write image .*no\/such\/dir\/guest\.img: ENOENT/);
  });
});
