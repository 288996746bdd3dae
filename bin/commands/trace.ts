/** `leanckpt trace validate|stats|convert`: trace files without replaying them. */
import { existsSync } from 'node:fs';
import { convertTrace, traceStats, validateTrace } from '../../core/trace/index.ts';
import type { TraceStats } from '../../core/trace/tools.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

function mustExist(path: string, verb: string): void {
  if (!existsSync(path)) throw new ExitError(`Cannot ${verb} ${path}: no such file`, EXIT.usage);
}

export async function validate(path: string) {
  mustExist(path, 'validate');
  return validateTrace(path);
}

export async function stats(path: string) {
  mustExist(path, 'read');
  return traceStats(path);
}

export async function convert(input: string, output: string, format?: 'jsonl' | 'binary') {
  mustExist(input, 'convert');
  return convertTrace(input, output, format);
}

const mib = (sectors: number): string => `${((sectors * 512) / 1048576).toFixed(1)} MiB`;

export function printStats(path: string, s: TraceStats): string {
  const lines = [
    `${path}: ${s.format}${s.gzipped ? ' (gzipped)' : ''} trace, ${s.bytesOnDisk} bytes, ${s.records} records, ${s.events} events`,
    `guest: ${s.header.pages} pages, disks ${s.header.disks.map((d) => `${d.id} (${d.sectors} sectors)`).join(', ')}`,
    `ops: ${Object.entries(s.ops)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ')}`,
    `I/O: ${s.reads} reads (${mib(s.sectorsRead)}), ${s.writes} writes (${mib(s.sectorsWritten)}), ${s.discards} discards ` +
      `(${mib(s.sectorsDiscarded)}), ${s.failed} failed; segments ${s.segments.fullPage} full-page, ${s.segments.subPage} sub-page`,
    `memory: ${s.memWritePages} page writes, ${s.releasedPages} releases, ${s.dirtyPages} dirty reports; ${s.pagesTouched} distinct pages touched`,
    `checkpoints: ${s.checkpoints}; requests in flight at the end: ${s.inFlightAtEnd}`,
  ];
  return `${lines.join('\n')}\n`;
}
