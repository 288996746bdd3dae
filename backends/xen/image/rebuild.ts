/**
 * The restore side of a Xen image. verifyXenImage() proves, before anything is handed to Xen, that the
 * image is intact and that every referenced sector range still holds the page it stands for;
 * rebuildXenStream() regenerates the original `xl save` stream byte for byte, checking every page as it
 * is read and the whole stream's hash at the end (so on its own it proves what it wrote, once done).
 */
import { RestoreError } from '../../../core/errors.ts';
import { updateInBackground, type Hasher64 } from '../../../core/hash.ts';
import { hex64 } from '../../../core/image/format.ts';
import { SectorRuns } from '../../../core/image/sector-runs.ts';
import type { BlockStore } from '../../../core/ports.ts';
import { XenImageReader, type MapEntries } from './reader.ts';
import type { RecordedContent, XenDisk, XenEnd } from './format.ts';
import type { RestoredMap } from '../tracked-domain.ts';
import { contentIdentity } from '../content/chunk-hashes.ts';

const PAGE = 4096;
/** Mapped pages rebuilt per disk pass: 1 MiB of output at a time. */
const REBUILD_GROUP = 256;

/** Receives the rebuilt stream; `bytes` may be reused once the promise resolves. */
export type StreamSink = (bytes: Uint8Array) => Promise<void>;

/** The size of the pieces a rebuild gathers small parts of the stream into for its sink. */
const SINK_PIECE = 4 << 20;
/** Parts at least this large reach the sink directly. */
const DIRECT_PIECE = 64 << 10;

export interface VerifyResult {
  readonly disks: readonly XenDisk[];
  /** Whole-content hash of each disk, as recorded. */
  readonly diskHashes: ReadonlyMap<number, RecordedContent>;
  readonly end: XenEnd;
  readonly pagesMapped: number;
  readonly diskReads: number;
  readonly imageBytes: number;
}

export const mismatch = (
  pfn: number,
  disk: number,
  sector: number,
  expected: bigint,
  actual: bigint,
): RestoreError =>
  new RestoreError(
    `page ${pfn} (disk ${disk}, sector ${sector}): content hash mismatch, the disk changed since the save ` +
      `(expected ${hex64(expected)}, got ${hex64(actual)})`,
    pfn,
    disk,
    sector,
  );

/** Each DISK of the image must be in the block store with the same size (checked before any read). */
function checkDiskSizes(reader: XenImageReader, blocks: BlockStore): void {
  for (const d of reader.disks) {
    const have = blocks.disks.find((b) => b.id === d.id);
    if (!have)
      throw new RestoreError(`disk ${d.id} (${d.vdev}, saved from ${d.path}) was not given`, undefined, d.id);
    if (have.sectors !== d.sectors) {
      throw new RestoreError(
        `disk ${d.id} (${d.vdev}): ${have.sectors} sectors given, the image was saved with ${d.sectors}`,
        undefined,
        d.id,
      );
    }
  }
}

/** Each disk's identity in the block store must be the content hash the image recorded. */
function checkDiskContent(reader: XenImageReader, blocks: BlockStore): void {
  for (const d of reader.disks) {
    const have = blocks.disks.find((b) => b.id === d.id)!;
    const expected = contentIdentity(reader.diskHashes.get(d.id)!);
    if (have.uuid !== expected) {
      throw new RestoreError(
        `disk ${d.id} (${d.vdev}): its content is not the one the image was saved with (${have.uuid}, expected ${expected})`,
        undefined,
        d.id,
      );
    }
  }
}

/**
 * Reads the whole image (every checksum, order and count), checks the disks' sizes, then reads every
 * referenced sector range in (disk, sector) order with coalesced reads; throws at the first page whose
 * sectors changed.
 * `checkIdentity` then compares each disk's whole-content hash (block store identity `xxh64:<hex>`).
 */
export async function verifyXenImage(
  path: string,
  blocks: BlockStore,
  hasher: Hasher64,
  checkIdentity = true,
): Promise<VerifyResult> {
  const reader = await XenImageReader.open(path, hasher);
  const maps: MapEntries[] = [];
  for await (const item of reader.items()) if (item.kind === 'map') maps.push(item.entries);
  const end = reader.end!;
  checkDiskSizes(reader, blocks);
  const total = maps.reduce((n, m) => n + m.count, 0);
  const pfn = new Uint32Array(total);
  const disk = new Uint32Array(total);
  const sector = new Float64Array(total);
  const hash = new BigUint64Array(total);
  let k = 0;
  for (const m of maps) {
    pfn.set(m.pfn, k);
    disk.set(m.disk, k);
    sector.set(m.sector, k);
    hash.set(m.hash, k);
    k += m.count;
  }
  const order = Array.from({ length: total }, (_, i) => i).sort(
    (a, b) => disk[a]! - disk[b]! || sector[a]! - sector[b]! || pfn[a]! - pfn[b]!,
  );
  const runs = new SectorRuns(blocks, hasher, (i, d, s, expected, actual) => {
    if (expected !== actual) throw mismatch(pfn[i]!, d, s, expected, actual);
  });
  for (const i of order) {
    if (!runs.fits(disk[i]!, sector[i]!)) await runs.submit();
    runs.add(i, disk[i]!, sector[i]!, hash[i]!);
  }
  await runs.flush();
  if (checkIdentity) checkDiskContent(reader, blocks);
  return {
    disks: reader.disks,
    diskHashes: reader.diskHashes,
    end,
    pagesMapped: total,
    diskReads: runs.reads,
    imageBytes: reader.size,
  };
}

export interface RebuildResult {
  readonly bytes: number;
  readonly hash: bigint;
  readonly diskReads: number;
  readonly pagesMapped: number;
  /** Whole-content hash of each disk, as recorded. */
  readonly diskHashes: ReadonlyMap<number, RecordedContent>;
  readonly end: XenEnd;
  /** Every MAP entry of the image, each page checked against its sectors (with `collectMap`). */
  readonly map?: RestoredMap;
}

export interface RebuildOptions {
  /** Keep the MAP entries (the pages the rebuild read from the disks) for the result's `map`. */
  readonly collectMap?: boolean;
}

/** The MAP entries of an image, in one set of arrays. */
export function concatMaps(parts: readonly MapEntries[]): RestoredMap {
  const length = parts.reduce((n, m) => n + m.count, 0);
  const out = {
    length,
    pfn: new Uint32Array(length),
    disk: new Uint32Array(length),
    sector: new Float64Array(length),
    hash: new BigUint64Array(length),
  };
  let k = 0;
  for (const m of parts) {
    out.pfn.set(m.pfn.subarray(0, m.count), k);
    out.disk.set(m.disk.subarray(0, m.count), k);
    out.sector.set(m.sector.subarray(0, m.count), k);
    out.hash.set(m.hash.subarray(0, m.count), k);
    k += m.count;
  }
  return out;
}

/**
 * Regenerates the saved stream into `sink`, stopping at the first fault: a checksum, a disk of the wrong
 * size, a page whose sectors changed (named), a stream that does not hash as saved. So a sink that
 * keeps what it got until this resolves (a staged file) holds only a proven stream; one that passes it
 * on at once (a FIFO to `xl restore`) needs verifyXenImage() first.
 */
export async function rebuildXenStream(
  path: string,
  blocks: BlockStore,
  hasher: Hasher64,
  sink: StreamSink,
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const reader = await XenImageReader.open(path, hasher);
  const maps: MapEntries[] = [];
  let pagesMapped = 0;
  let sized = false;
  const whole = hasher.streaming();
  let bytes = 0;
  // The sink gets large pieces: a stream alternating kept, zero and mapped pages would otherwise reach
  // it (a file, a FIFO) a record, often one page, at a time. It must not keep a piece once it resolved.
  const pending = new Uint8Array(SINK_PIECE);
  let used = 0;
  // Each piece is hashed while the sink writes it (both only read it), off the main thread where the
  // hasher can: the whole-stream hash then costs the rebuild no time on a second CPU.
  const drain = async (): Promise<void> => {
    if (used === 0) return;
    const piece = pending.subarray(0, used);
    await Promise.all([sink(piece), updateInBackground(whole, piece)]);
    used = 0;
  };
  // Large pieces (a STREAM record's bytes, a run of zero or mapped pages) go to the sink as they are:
  // copying every byte of the stream into `pending` cost the lab's emulated CPU seconds.
  const emit = async (b: Uint8Array): Promise<void> => {
    bytes += b.length;
    if (b.length >= DIRECT_PIECE || used + b.length > pending.length) await drain();
    if (b.length >= DIRECT_PIECE) {
      await Promise.all([sink(b), updateInBackground(whole, b)]);
      return;
    }
    pending.set(b, used);
    used += b.length;
  };
  const zeros = new Uint8Array(REBUILD_GROUP * PAGE);
  const out = new Uint8Array(REBUILD_GROUP * PAGE);
  let group: MapEntries | undefined;
  let base = 0;
  const runs = new SectorRuns(blocks, hasher, (i, d, s, expected, actual, page) => {
    if (expected !== actual) throw mismatch(group!.pfn[i]!, d, s, expected, actual);
    out.set(page, (i - base) * PAGE);
  });
  for await (const item of reader.items()) {
    if (!sized) {
      // The DISK records precede everything the reader yields.
      checkDiskSizes(reader, blocks);
      sized = true;
    }
    if (item.kind === 'stream') {
      await emit(item.bytes);
    } else if (item.kind === 'zero') {
      for (let left = item.pages; left > 0; left -= REBUILD_GROUP) {
        await emit(zeros.subarray(0, Math.min(left, REBUILD_GROUP) * PAGE));
      }
    } else {
      group = item.entries;
      pagesMapped += group.count;
      if (opts.collectMap) maps.push(group);
      for (base = 0; base < group.count; base += REBUILD_GROUP) {
        const n = Math.min(REBUILD_GROUP, group.count - base);
        let last = -1;
        for (let i = base; i < base + n; i++) {
          // Entries are in stream order; a run only grows forwards on the disk.
          const d = group.disk[i]!;
          const s = group.sector[i]!;
          if (s < last || !runs.fits(d, s)) await runs.submit();
          runs.add(i, d, s, group.hash[i]!);
          last = s;
        }
        await runs.flush();
        await emit(out.subarray(0, n * PAGE));
      }
    }
  }
  await drain();
  const hash = whole.digest();
  const end = reader.end!;
  if (bytes !== end.streamBytes || hash !== end.streamHash) {
    throw new RestoreError(
      `the rebuilt stream differs from the saved one (${bytes} bytes, hash ${hex64(hash)}; saved ${end.streamBytes} bytes, ${hex64(end.streamHash)})`,
    );
  }
  return {
    bytes,
    hash,
    diskReads: runs.reads,
    pagesMapped,
    diskHashes: reader.diskHashes,
    end,
    ...(opts.collectMap ? { map: concatMaps(maps) } : {}),
  };
}
