/** Summary of a Xen image, every checksum and count verified, without its disks. */
import type { Hasher64 } from '../../../core/hash.ts';
import { XenImageReader } from './reader.ts';
import type { XenDisk, XenEnd } from './format.ts';

export interface XenImageSummary {
  readonly kind: 'xen';
  readonly path: string;
  readonly version: { major: number; minor: number };
  readonly bytes: number;
  readonly guest: 'pv' | 'hvm';
  /**
   * `hash`: the content hash in hex; `chunkSectors`: its kind (0: whole-file XXH64, else chunked);
   * `chunks`: whether the chunks' hashes are recorded; `file`: the frozen file's identity, if recorded
   * (decimal strings: JSON has no 64-bit integers; times in ns since the epoch).
   */
  readonly disks: readonly (XenDisk & {
    readonly hash: string;
    readonly chunkSectors: number;
    readonly chunks: boolean;
    readonly file?: Readonly<Record<'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs' | 'settledNs', string>>;
  })[];
  readonly streamBytes: number;
  readonly streamHash: string;
  readonly pages: {
    readonly inStream: number;
    readonly mapped: number;
    readonly zero: number;
    readonly kept: number;
  };
  /** Stream bytes kept verbatim (headers, records, kept pages). */
  readonly keptBytes: number;
  readonly records: Record<string, { count: number; bytes: number }>;
  /** With `list`: every left-out mapped page as [pfn, disk, sector]. */
  readonly mapped?: [pfn: number, disk: number, sector: number][];
}

const hex = (h: bigint): string => h.toString(16).padStart(16, '0');

export async function inspectXenImage(
  path: string,
  hasher: Hasher64,
  list = false,
): Promise<XenImageSummary> {
  const reader = await XenImageReader.open(path, hasher);
  const records: Record<string, { count: number; bytes: number }> = {};
  const tally = (name: string, bytes: number): void => {
    const r = (records[name] ??= { count: 0, bytes: 0 });
    r.count++;
    r.bytes += bytes;
  };
  const mapped: [number, number, number][] = [];
  let keptBytes = 0;
  for await (const item of reader.items()) {
    if (item.kind === 'stream') {
      keptBytes += item.bytes.length;
      tally('STREAM', item.bytes.length);
    } else if (item.kind === 'zero') {
      tally('ZERO', 8);
    } else {
      tally('MAP', 8 + 24 * item.entries.count);
      if (list) {
        const e = item.entries;
        for (let i = 0; i < e.count; i++) mapped.push([e.pfn[i]!, e.disk[i]!, e.sector[i]!]);
      }
    }
  }
  const end: XenEnd = reader.end!;
  return {
    kind: 'xen',
    path,
    version: reader.version,
    bytes: reader.size,
    guest: end.guest,
    disks: reader.disks.map((d) => {
      const c = reader.diskHashes.get(d.id)!;
      const f = c.file;
      return {
        ...d,
        hash: hex(c.hash),
        chunkSectors: c.chunkSectors,
        chunks: c.chunks !== undefined,
        ...(f
          ? {
              file: {
                dev: `${f.dev}`,
                ino: `${f.ino}`,
                size: `${f.size}`,
                mtimeNs: `${f.mtimeNs}`,
                ctimeNs: `${f.ctimeNs}`,
                settledNs: `${f.settledNs}`,
              },
            }
          : {}),
      };
    }),
    streamBytes: end.streamBytes,
    streamHash: hex(end.streamHash),
    pages: {
      inStream: end.pageSlots,
      mapped: end.pagesMapped,
      zero: end.pagesZero,
      kept: end.pageSlots - end.pagesMapped - end.pagesZero,
    },
    keptBytes,
    records,
    ...(list ? { mapped } : {}),
  };
}

/** A time in ns since the epoch, as ISO 8601 to the nanosecond. */
const isoNs = (ns: string): string => {
  const t = BigInt(ns);
  const iso = new Date(Number(t / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(((t % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0')}Z`;
};

const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;

export function printXenInspect(s: XenImageSummary): string {
  const pct = (n: number): string => `${((100 * n) / Math.max(1, s.streamBytes)).toFixed(1)} %`;
  const lines = [
    `${s.path}: leanckpt Xen image v${s.version.major}.${s.version.minor}, ${mib(s.bytes)}, every checksum valid`,
    `guest: ${s.guest.toUpperCase()}; xl save stream ${mib(s.streamBytes)} (xxh64 ${s.streamHash}); image is ${pct(s.bytes)} of it`,
    `pages in the stream: ${s.pages.inStream}: ${s.pages.mapped} on disk, ${s.pages.zero} zero, ${s.pages.kept} kept`,
    ...s.disks.map(
      (d) =>
        `disk ${d.id} (${d.vdev}): ${d.sectors} sectors, content ${d.chunkSectors === 0 ? 'xxh64' : `xxh64 of ${d.chunkSectors / 2048} MiB chunks`} ${d.hash}` +
        `${d.chunks ? ' (chunks recorded)' : ''}, saved from ${d.path}` +
        (d.file
          ? `\n  file identity: device ${d.file.dev}, inode ${d.file.ino}, changed ${isoNs(d.file.ctimeNs)}, settled ${isoNs(d.file.settledNs)}`
          : ''),
    ),
    '',
    '| record | count | body bytes |',
    '|---|---:|---:|',
    ...Object.entries(s.records).map(([name, t]) => `| ${name} | ${t.count} | ${t.bytes} |`),
    ...(s.mapped
      ? ['', 'pages on disk (pfn disk sector):', ...s.mapped.map(([p, d, sec]) => `${p} ${d} ${sec}`)]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}
