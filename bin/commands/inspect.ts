/** `leanckpt inspect`: validates an image without its disks and summarises what it holds. */
import { existsSync } from 'node:fs';
import { inspectImage, type ImageSummary } from '../../core/image/index.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

export async function inspect(path: string): Promise<ImageSummary> {
  if (!existsSync(path)) throw new ExitError(`Cannot inspect ${path}: no such file`, EXIT.usage);
  return inspectImage(path);
}

const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;

export function printInspect(s: ImageSummary): string {
  const lines = [
    `${s.path}: leanckpt image v${s.version.major}.${s.version.minor}, ${mib(s.bytes)}, every checksum valid`,
    `guest: ${s.pageCount} pages of ${s.pageSize} B (${mib(s.pageCount * s.pageSize)}); device state ${s.stateBytes} B`,
    `pages: ${s.pagesMapped} mapped to disk, ${s.pagesZero} zero, ${s.pagesData} stored`,
    ...s.disks.map((d) => `disk ${d.id}: ${d.sectors} sectors, identity ${d.uuid}`),
    '',
    '| record | count | bytes |',
    '|---|---:|---:|',
    ...Object.entries(s.records).map(([name, t]) => `| ${name} | ${t.count} | ${t.bytes} |`),
  ];
  return `${lines.join('\n')}\n`;
}
