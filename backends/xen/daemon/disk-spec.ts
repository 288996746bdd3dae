/** `--disk <vdev>=<file>` arguments; apart from the tracking code so commands parse them without loading it. */
import { vdevNumber } from '../blkif/vdev.ts';

export interface DiskSpec {
  readonly vdev: string;
  readonly path: string;
}

/** Parses "xvda=/path/disk.img"; throws a message naming the bad argument. */
export function parseDiskSpec(text: string): DiskSpec {
  const m = /^([a-z0-9]+)=(.+)$/.exec(text);
  if (!m || vdevNumber(m[1]!) === undefined) {
    throw new RangeError(`--disk wants <vdev>=<file> with vdev like xvda, got "${text}"`);
  }
  return { vdev: m[1]!, path: m[2]! };
}
