/**
 * `leanckpt restore <image> --disks <disks.json>`: restores an image from raw disk files, checking
 * every mapped page against its hash; writes the guest memory to a raw file with --out.
 */
import { existsSync } from 'node:fs';
import { DiscardMemory, FileMemory } from '../../backends/file/file-memory.ts';
import { FileBlockStore, ManifestError, readManifest } from '../../backends/file/file-block-store.ts';
import { loadHasher } from '../../core/hash.ts';
import { inspectImage, restoreImage, type RestoreStats } from '../../core/image/index.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

export interface RestoreCliOptions {
  disks: string;
  out?: string;
  json?: boolean;
}

export interface RestoreCliResult extends Omit<RestoreStats, 'state'> {
  image: string;
  pages: number;
  stateBytes: number;
  memory: string | null;
}

export async function restore(image: string, opts: RestoreCliOptions): Promise<RestoreCliResult> {
  if (!existsSync(image)) throw new ExitError(`Cannot restore ${image}: no such file`, EXIT.usage);
  let blocks: FileBlockStore;
  try {
    blocks = new FileBlockStore(readManifest(opts.disks));
  } catch (err) {
    if (err instanceof ManifestError) throw new ExitError(err.message, EXIT.usage);
    throw err;
  }
  try {
    // Check the whole image (structure, every checksum) before touching the target.
    const summary = await inspectImage(image);
    const memory = opts.out
      ? new FileMemory(opts.out, summary.pageCount)
      : new DiscardMemory(summary.pageCount);
    try {
      const { state, ...stats } = await restoreImage(image, { memory, blocks, hasher: await loadHasher() });
      return {
        image,
        pages: summary.pageCount,
        stateBytes: state.length,
        memory: opts.out ?? null,
        ...stats,
      };
    } finally {
      if (memory instanceof FileMemory) memory.close();
    }
  } finally {
    blocks.close();
  }
}

export function printRestore(r: RestoreCliResult): string {
  return (
    `restored ${r.image}: ${r.pages} pages (${r.pagesMapped} from disk in ${r.diskReads} reads, ${r.pagesZero} zero, ` +
    `${r.pagesData} from the image), every mapped page verified, ${(r.seconds * 1000).toFixed(0)} ms` +
    (r.memory ? `\nguest memory written to ${r.memory}` : '\n(no --out: memory checked, not kept)') +
    '\n'
  );
}
