/** Writes a Xen image from a save stream: parse, filter, write, all streaming, replacing `path` atomically. */
import { writeFileAtomically } from '../../../core/image/atomic-file.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import type { BlockStore } from '../../../core/ports.ts';
import type { StreamSource } from '../stream/file-source.ts';
import { SaveStreamParser, type StreamSummary } from '../stream/parser.ts';
import type { PageMapView } from '../tracked-domain.ts';
import { filterStream, type FilterStats } from './filter.ts';
import type { XenDisk, XenDiskHash } from './format.ts';
import { XenImageWriter } from './writer.ts';

export interface XenImageInput {
  /** The `xl save` stream. */
  readonly stream: AsyncIterable<Uint8Array> | StreamSource;
  readonly map: PageMapView;
  /** The frozen disk state the image will reference; pages are checked against it as they pass. */
  readonly blocks: BlockStore;
  readonly disks: readonly XenDisk[];
  /** Whole-content hashes of the frozen disks, computed meanwhile (recorded after the stream). */
  readonly diskHashes: Promise<readonly XenDiskHash[]>;
  readonly hasher: Hasher64;
  /** Runs once the image is complete, before it replaces `path`: a failure here discards it. */
  readonly beforeCommit?: () => Promise<void>;
}

export interface XenImageStats extends FilterStats {
  readonly imageBytes: number;
  readonly stream: StreamSummary;
}

/** On any failure `path` is left as it was and the temporary file is removed. */
export async function writeXenImage(path: string, input: XenImageInput): Promise<XenImageStats> {
  return writeFileAtomically(path, async (file) => {
    const writer = new XenImageWriter(file, input.hasher);
    await writer.begin(input.disks);
    const parser = new SaveStreamParser(input.stream);
    const stats = await filterStream(parser, input.map, input.blocks, writer, input.hasher);
    const end = {
      streamBytes: stats.streamBytes,
      streamHash: stats.streamHash,
      pageSlots: stats.pageSlots,
      pagesMapped: stats.pagesMapped,
      pagesZero: stats.pagesZero,
      guest: parser.summary.guestType ?? 'pv',
    };
    await writer.finish(end, await input.diskHashes);
    await input.beforeCommit?.();
    return { ...stats, imageBytes: writer.bytes, stream: parser.summary };
  });
}
