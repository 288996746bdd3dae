/**
 * How a restore proves each disk's whole content: by the file's recorded identity where it still holds
 * (the file is then not read at all), else by reading and hashing it; and a file that changes after
 * its identity was found is read after all, before the domain could run.
 */
import { beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { open, writeFile } from 'node:fs/promises';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { RestoreError } from '../../../core/errors.ts';
import { digestChunks } from '../../../backends/xen/content/chunk-hashes.ts';
import { settledIdentity } from '../../../backends/xen/content/file-identity.ts';
import { DiskContentCheck, type DiskCheck } from '../../../backends/xen/disk-content-check.ts';
import type { RecordedContent, XenDisk } from '../../../backends/xen/image/format.ts';
import { contentOf } from './fixtures/disks.ts';
import { tempDir } from '../../support/image-fakes.ts';

const ID = 51712;
const SECTORS = 4096; // two 1 MiB chunks
let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let path: string;
let bytes: Uint8Array;
beforeAll(async () => {
  hasher = await loadHasher();
});
beforeEach(async () => {
  tmp = await tempDir('leanckpt-disk-check-');
  path = tmp.path('xvda.raw');
  bytes = new Uint8Array(SECTORS * 512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) & 0xff;
  await writeFile(path, bytes);
});
afterEach(async () => {
  await tmp.cleanup();
});

const disk: XenDisk = { id: ID, sectors: SECTORS, vdev: 'xvda', path: '' };
const checker = (mode: DiskCheck = 'identity') =>
  new DiskContentCheck([disk], [{ id: ID, path, sectors: SECTORS }], hasher, mode, performance.now());

/** What a save records of the file now: its content and its settled identity. */
async function recorded(): Promise<ReadonlyMap<number, RecordedContent>> {
  const file = await settledIdentity(path);
  expect(file).toBeDefined();
  return new Map([[ID, { ...contentOf(hasher, bytes), file: file! }]]);
}

/** Flips a byte of the file in place, where no page need point. */
async function scribble(): Promise<void> {
  const f = await open(path, 'r+');
  try {
    await f.write(Uint8Array.of(bytes[5000]! ^ 0xff), 0, 1, 5000);
  } finally {
    await f.close();
  }
}

describe('a restore proving disk content', () => {
  it('takes an unchanged file on its identity without reading it: the chunks are the image’s', async () => {
    const rec = await recorded();
    // Chunk hashes the file does not have, but which agree with the recorded hash: only a check that
    // never read the file can accept them and hand them on.
    const chunks = BigUint64Array.of(1n, 2n);
    const trusted = new Map([[ID, { ...rec.get(ID)!, chunks, hash: digestChunks(hasher, chunks) }]]);
    const c = checker();
    c.start(trusted);
    expect((await c.chunks()).get(ID)!.chunks).toEqual(chunks);
    expect(await c.check(trusted)).toEqual(new Map([[ID, 'identity']]));
  });

  it('reads every disk with --disk-check content, or when started before the records are known', async () => {
    const rec = await recorded();
    const content = checker('content');
    content.start(rec);
    expect(await content.check(rec)).toEqual(new Map([[ID, 'content']]));
    const early = checker();
    early.start();
    expect(await early.check(rec)).toEqual(new Map([[ID, 'content']]));
    expect((await early.chunks()).get(ID)!.chunks).toEqual(contentOf(hasher, bytes).chunks);
  });

  it('reads a file written since the save, and refuses it if its content changed', async () => {
    const rec = await recorded();
    await writeFile(path, bytes); // the same bytes again: a new identity, the same content
    const same = checker();
    same.start(rec);
    expect(await same.check(rec)).toEqual(new Map([[ID, 'content']]));
    // Read, not taken on trust: the new tracking gets the file's chunk hashes, not the image's.
    const chunks = BigUint64Array.of(1n, 2n);
    const untrue = new Map([[ID, { ...rec.get(ID)!, chunks, hash: digestChunks(hasher, chunks) }]]);
    const read = checker();
    read.start(untrue);
    expect((await read.chunks()).get(ID)!.chunks).toEqual(contentOf(hasher, bytes).chunks);
    await scribble();
    const changed = checker();
    changed.start(rec);
    await expect(changed.check(rec)).rejects.toThrow(
      /^disk 51712 \(xvda\): its content is not the one the image was saved with/,
    );
  });

  it('reads a file that changed after its identity was found, before the domain could run', async () => {
    const rec = await recorded();
    const c = checker();
    c.start(rec);
    await c.chunks(); // proven by identity
    await scribble();
    const err = await c.check(rec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as Error).message).toMatch(/^disk 51712 \(xvda\): its content is not the one/);
  });
});
