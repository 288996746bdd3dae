/**
 * Tools for checking Xen images against Xen itself (used by the lab): rebuild an image's `xl save`
 * stream into a file (for `verify-stream-v2` and for comparing with a plain `xl save`), and the oracle
 * (every stream page equal to some disk range) that a save's pages on disk are measured against.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomically } from '../../../core/image/atomic-file.ts';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { diskFileStore, fileSectors, hashFileContent, type DiskFile } from '../disk-files.ts';
import { XenImageReader } from '../image/reader.ts';
import { rebuildXenStream, verifyXenImage } from '../image/rebuild.ts';
import { streamOracle, type StreamOracleResult } from '../stream/oracle.ts';
import { isXenImage } from './inspect.ts';

/** The image's disks as files: overrides by device name, else the recorded paths, with content hashes. */
async function imageDisks(
  image: string,
  overrides: Readonly<Record<string, string>>,
  hasher: Hasher64,
): Promise<DiskFile[]> {
  // The content hashes' kinds are recorded at the end: the whole image is read (and checked) first.
  const reader = await XenImageReader.open(image, hasher);
  for await (const item of reader.items()) void item;
  return Promise.all(
    reader.disks.map(async (d) => {
      const path = resolve(overrides[d.vdev] ?? d.path);
      const kind = reader.diskHashes.get(d.id)!.chunkSectors;
      return {
        id: d.id,
        path,
        sectors: await fileSectors(path),
        hash: await hashFileContent(path, hasher, kind),
      };
    }),
  );
}

export interface RebuildResult {
  readonly image: string;
  readonly out: string;
  readonly bytes: number;
  readonly streamHash: string;
  readonly ms: number;
}

/** Verifies the image against its disks, then writes the original stream to `out` (atomically). */
export async function rebuildToFile(
  image: string,
  out: string,
  disks: Readonly<Record<string, string>> = {},
): Promise<RebuildResult> {
  const t0 = performance.now();
  const hasher = await loadHasher();
  const blocks = diskFileStore(await imageDisks(image, disks, hasher));
  try {
    await verifyXenImage(image, blocks, hasher);
    const r = await writeFileAtomically(out, async (file) =>
      rebuildXenStream(image, blocks, hasher, async (b) => {
        let at = 0;
        while (at < b.length) at += (await file.write(b, at, b.length - at)).bytesWritten;
      }),
    );
    return {
      image,
      out,
      bytes: r.bytes,
      streamHash: r.hash.toString(16).padStart(16, '0'),
      ms: performance.now() - t0,
    };
  } finally {
    blocks.close();
  }
}

export interface OracleReport extends StreamOracleResult {
  readonly source: string;
  /** With a Xen image: its pages on disk, and their share of what the oracle found (the capture ratio). */
  readonly pagesMapped?: number;
  readonly capture?: number;
}

/**
 * The oracle over an `xl save` file, or over the stream a Xen image rebuilds (then with the capture
 * ratio of that save). `disks` name the disk files by device (for a plain stream: any names).
 */
export async function oracle(source: string, disks: Readonly<Record<string, string>>): Promise<OracleReport> {
  const hasher = await loadHasher();
  if (await isXenImage(source)) {
    const dir = await mkdtemp(join(tmpdir(), 'leanckpt-oracle-'));
    try {
      const stream = join(dir, 'stream');
      await rebuildToFile(source, stream, disks);
      const files = await imageDisks(source, disks, hasher);
      const blocks = diskFileStore(files);
      try {
        const r = await streamOracle(stream, blocks, hasher);
        const mapped = (await verifyXenImage(source, blocks, hasher, false)).pagesMapped;
        return {
          source,
          ...r,
          pagesMapped: mapped,
          capture: r.matchedOrdinary > 0 ? mapped / r.matchedOrdinary : 1,
        };
      } finally {
        blocks.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const files = await Promise.all(
    Object.values(disks).map(async (p, i) => ({
      id: i,
      path: resolve(p),
      sectors: await fileSectors(resolve(p)),
    })),
  );
  const blocks = diskFileStore(files);
  try {
    return { source, ...(await streamOracle(source, blocks, hasher)) };
  } finally {
    blocks.close();
  }
}
