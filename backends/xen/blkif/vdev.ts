/**
 * Virtual device names to blkif device numbers (docs/man/xen-vbd-interface.7): xvd[a-p] are
 * (202 << 8) | (disk << 4) | part, later xvd disks use the extended form (1 << 28) | (disk << 8) | part.
 */
export function vdevNumber(name: string): number | undefined {
  const m = /^xvd([a-z]+)(\d*)$/.exec(name);
  if (!m) return undefined;
  let disk = 0;
  for (const c of m[1]!) disk = disk * 26 + (c.charCodeAt(0) - 96);
  disk -= 1;
  const part = m[2] === '' ? 0 : Number(m[2]);
  if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
  if (disk < 1 << 20 && part < 256) return ((1 << 28) | (disk << 8) | part) >>> 0;
  return undefined;
}
