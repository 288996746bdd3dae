import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { writeXenImage } from '../../../../backends/xen/image/save-image.ts';
import { inspect, printInspect } from '../../../../bin/commands/inspect.ts';
import { leanckpt } from '../../../support/cli.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { buildGuest, DISK_ID, type Guest, type PageKind } from '../fixtures/guest.ts';
import { chunked, streamBytes, streamPieces } from '../fixtures/stream-fixture.ts';

const cli = (...args: string[]) => leanckpt(args);

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let g: Guest;
let image: string;
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-xen-inspect-');
  const kinds: PageKind[] = ['zero', 'disk', 'random', 'zero'];
  g = buildGuest(
    {
      guest: 'hvm',
      kinds: Array.from({ length: 64 }, (_, i) => kinds[i % 4]!),
      offsets: Array.from({ length: 64 }, (_, i) => i * 16),
      batch: 32,
      libxcVersion: 3,
      checkpoints: 0,
      verify: false,
      optionalRecords: false,
      seed: 4,
    },
    hasher,
  );
  image = tmp.path('g.lcxen');
  await writeXenImage(image, {
    stream: chunked(streamPieces(g.spec)),
    map: g.map,
    blocks: g.disks,
    disks: g.disks.xenDisks(),
    diskHashes: Promise.resolve(g.disks.contentHashes(hasher)),
    hasher,
  });
});
afterAll(() => tmp.cleanup());

describe('inspect recognises Xen images', () => {
  it('summarises pages, disks and records, and lists the pages on disk', async () => {
    const s = await inspect(image, true);
    expect(s).toMatchObject({
      kind: 'xen',
      guest: 'hvm',
      streamBytes: streamBytes(g.spec).length,
      pages: { inStream: 64, mapped: 16, zero: 32, kept: 16 },
      disks: [{ id: DISK_ID, vdev: `xvd${DISK_ID}`, sectors: 2048 }],
    });
    if (!('kind' in s)) throw new Error('not a Xen summary');
    expect(s.mapped).toHaveLength(16);
    expect(s.mapped![0]).toEqual([1, DISK_ID, 16]);
    const text = printInspect(s);
    expect(text).toMatch(/leanckpt Xen image v1\.2, .* every checksum valid/);
    expect(text).toMatch(/pages in the stream: 64: 16 on disk, 32 zero, 16 kept/);
    expect(text).toMatch(/content xxh64 of 1 MiB chunks [0-9a-f]{16} \(chunks recorded\), saved from/);
  });

  it('exits 0 on a good image and 1 naming the record on a corrupt one', async () => {
    const ok = await cli('inspect', image, '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ kind: 'xen', pages: { mapped: 16 } });
    const bytes = await readFile(image);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 1;
    await writeFile(tmp.path('bad.lcxen'), bytes);
    const bad = await cli('inspect', tmp.path('bad.lcxen'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^leanckpt: END record checksum mismatch .* \(END record at offset \d+\)\n$/);
  });
});
