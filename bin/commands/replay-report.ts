/** The table `simulate` and `replay` print, and the exit decision they share. */
import type { ReplayResult } from '../../backends/sim/replay.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

export function printReplay(r: ReplayResult, title: string): string {
  const lines = [
    title,
    `${r.pages} pages (${mib(r.pages * 4096)}), ${r.events} events, ${r.delivery} delivery, ${r.policy} images, ` +
      `${r.seconds.toFixed(1)} s`,
    '',
    '| checkpoint | events | mapped | zero | data | image | baseline | reduction | write | restore | verified |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of r.checkpoints) {
    lines.push(
      `| ${c.name} | ${c.events} | ${c.mappedPages} | ${c.zeroPages} | ${c.dataPages} | ${mib(c.imageBytes)} | ` +
        `${mib(c.baselineBytes)} | ${pct(c.reduction)} | ${(c.writeSeconds * 1000).toFixed(0)} ms | ` +
        `${(c.restoreSeconds * 1000).toFixed(0)} ms | ${c.verified ? 'yes' : `NO: ${c.failure}`} |`,
    );
  }
  if (r.checkpoints.length === 0) lines.push('(no checkpoint in this run)');
  return `${lines.join('\n')}\n`;
}

/** A run with an unverified checkpoint exits 1, after its output is printed. */
export function failIfUnverified(r: ReplayResult): void {
  const bad = r.checkpoints.filter((c) => !c.verified);
  if (bad.length > 0) {
    throw new ExitError(
      `verification failed at ${bad.length} checkpoint(s): ${bad.map((c) => `${c.name}: ${c.failure}`).join('; ')}`,
      EXIT.verificationFailed,
    );
  }
}
