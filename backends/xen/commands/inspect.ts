/** `leanckpt inspect` for Xen images: recognised by their magic, summarised without their disks. */
import { open } from 'node:fs/promises';
import { loadHasher } from '../../../core/hash.ts';
import { inspectXenImage, printXenInspect, type XenImageSummary } from '../image/inspect.ts';
import { XenImageReader } from '../image/reader.ts';

export type { XenImageSummary };
export { printXenInspect };

/** Whether the file starts with the Xen image magic (false for anything unreadable or shorter). */
export async function isXenImage(path: string): Promise<boolean> {
  try {
    const f = await open(path, 'r');
    try {
      const head = new Uint8Array(8);
      const { bytesRead } = await f.read(head, 0, 8, 0);
      return XenImageReader.sniff(head.subarray(0, bytesRead));
    } finally {
      await f.close();
    }
  } catch {
    return false;
  }
}

export async function xenInspect(path: string, list = false): Promise<XenImageSummary> {
  return inspectXenImage(path, await loadHasher(), list);
}
