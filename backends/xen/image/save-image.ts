/** Writes a Xen image from a save stream: parse, filter, write, all streaming, replacing `path` atomically. */
import { writeFileAtomically } from '../../../core/image/atomic-file.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import type { BlockStore } from '../../../core/ports.ts';
import { SaveStreamParser, type StreamSummary } from '../stream/parser.ts';
import type { PageMapView } from '../tracked-domain.ts';
import { filterStream, type FilterStats } from './filter.ts';
import type { XenDisk } from './format.ts';
import { XenImageWriter } from './writer.ts';

export interface XenImageStats extends FilterStats {
  readonly imageBytes: number;
  readonly stream: StreamSummary;
}

/**
 * `blocks` must be the frozen disk state the image will reference, with the identities `disks` records;
 * pages are checked against it as they pass. On any failure `path` is left as it was.
 */
export async function writeXenImage(
  path: string,
  input: AsyncIterable<Uint8Array>,
  map: PageMapView,
  blocks: BlockStore,
  disks: readonly XenDisk[],
  hasher: Hasher64,
): Promise<XenImageStats> {
  return writeFileAtomically(path, async (file) => {
    const writer = new XenImageWriter(file, hasher);
    await writer.begin(disks);
    const parser = new SaveStreamParser(input);
    const stats = await filterStream(parser, map, blocks, writer, hasher);
    await writer.finish({
      streamBytes: stats.streamBytes,
      streamHash: stats.streamHash,
      pageSlots: stats.pageSlots,
      pagesMapped: stats.pagesMapped,
      pagesZero: stats.pagesZero,
      guest: parser.summary.guestType ?? 'pv',
    });
    return { ...stats, imageBytes: writer.bytes, stream: parser.summary };
  });
}
