/** `leanckpt inspect`: validates an image without its disks and summarises what it holds. */
import { existsSync } from 'node:fs';
import { inspectImage, listMapping, type ImageSummary } from '../../core/image/index.ts';
import {
  isXenImage,
  printXenInspect,
  xenInspect,
  type XenImageSummary,
} from '../../backends/xen/commands/inspect.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

export type InspectResult =
  (ImageSummary & { mapped?: [pfn: number, disk: number, sector: number][] }) | XenImageSummary;

export async function inspect(path: string, list = false): Promise<InspectResult> {
  if (!existsSync(path)) throw new ExitError(`Cannot inspect ${path}: no such file`, EXIT.usage);
  if (await isXenImage(path)) return xenInspect(path, list);
  const summary = await inspectImage(path);
  return list ? { ...summary, mapped: await listMapping(path) } : summary;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;

export function printInspect(s: InspectResult): string {
  if ('kind' in s) return printXenInspect(s);
  const lines = [
    `${s.path}: leanckpt image v${s.version.major}.${s.version.minor}, ${mib(s.bytes)}, every checksum valid`,
    `guest: ${s.pageCount} pages of ${s.pageSize} B (${mib(s.pageCount * s.pageSize)}); device state ${s.stateBytes} B`,
    `pages: ${s.pagesMapped} mapped to disk, ${s.pagesZero} zero, ${s.pagesData} stored`,
    ...s.disks.map((d) => `disk ${d.id}: ${d.sectors} sectors, identity ${d.uuid}`),
    '',
    '| record | count | bytes |',
    '|---|---:|---:|',
    ...Object.entries(s.records).map(([name, t]) => `| ${name} | ${t.count} | ${t.bytes} |`),
    ...(s.mapped
      ? ['', 'mapped pages (pfn disk sector):', ...s.mapped.map(([p, d, sec]) => `${p} ${d} ${sec}`)]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}
