/** Markdown tables of a paper run: one per guest kind, and the averages beside the published ones. */
import type { CaseSummary, GuestAverage, Stat } from './summary.ts';

const MiB = 2 ** 20;

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const share = (s: Stat): string => `${pct(s.mean)}${s.n > 1 ? ` ±${(s.sd * 100).toFixed(1)}` : ''}`;
/** "−61.2 %" for a reduction, with "± sd" when several seeds ran. */
const red = (s: Stat): string =>
  `−${(s.mean * 100).toFixed(1)} %${s.n > 1 ? ` ±${(s.sd * 100).toFixed(1)}` : ''}`;
const mib = (s: Stat): string =>
  `${(s.mean / MiB).toFixed(1)}${s.n > 1 ? ` ±${(s.sd / MiB).toFixed(1)}` : ''}`;
const sec = (s: Stat): string =>
  s.n === 0 ? 'n/a' : `${s.mean.toFixed(2)}${s.n > 1 ? ` ±${s.sd.toFixed(2)}` : ''}`;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export function guestTables(summaries: readonly CaseSummary[]): string {
  const guests = [...new Set(summaries.map((s) => s.guest))];
  return guests
    .map((g) => {
      const rows = summaries.filter((s) => s.guest === g);
      const stored = table(
        [
          'workload',
          'baseline MiB',
          'p2b MiB',
          'p2b',
          'p2b-epoch',
          'p2b-epoch+revalidate',
          'p2b+zero',
          'oracle',
          'oracle+zero',
          'capture',
          'capture epoch',
          'capture epoch+reval.',
        ],
        rows.map((s) => [
          s.workload,
          mib(s.storedBytes.baseline),
          mib(s.storedBytes.p2b),
          red(s.reduction.p2b),
          red(s.reduction['p2b-epoch']),
          red(s.reduction['p2b-epoch+revalidate']),
          red(s.reduction['p2b+zero']),
          red(s.reduction.oracle),
          red(s.reduction['oracle+zero']),
          share(s.capture),
          share(s.captureBy.epoch),
          share(s.captureBy['epoch+revalidate']),
        ]),
      );
      const time = table(
        [
          'workload',
          'modeled ckpt s: baseline',
          'p2b',
          'p2b+zero',
          'measured write s: baseline',
          'p2b',
          'restore read MiB: baseline',
          'p2b',
          'modeled restore s: baseline',
          'p2b',
          'measured restore s: baseline',
          'p2b',
        ],
        rows.map((s) => [
          s.workload,
          sec(s.ckptSeconds.baseline),
          `${sec(s.ckptSeconds.p2b)} (${red(s.ckptReduction.p2b)})`,
          `${sec(s.ckptSeconds['p2b+zero'])} (${red(s.ckptReduction['p2b+zero'])})`,
          sec(s.measuredWrite.baseline),
          sec(s.measuredWrite.p2b),
          mib(s.restore.baseline.bytesRead),
          mib(s.restore.p2b.bytesRead),
          sec(s.restore.baseline.modeledSeconds),
          sec(s.restore.p2b.modeledSeconds),
          sec(s.restore.baseline.measuredSeconds),
          sec(s.restore.p2b.measuredSeconds),
        ]),
      );
      return `### ${g}\n\nStored data per checkpoint (mean over the run's checkpoints) and reduction vs baseline:\n\n${stored}\n\nTime (cost model as configured; measured = this run, this machine):\n\n${time}\n`;
    })
    .join('\n');
}

const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;

export function averagesTable(avgs: readonly GuestAverage[]): string {
  const profiles = Object.keys(avgs[0]?.ckptReduction ?? {});
  const head = [
    'guest kind',
    'published: less data',
    'p2b',
    'Δ (pts)',
    'p2b+zero',
    'oracle+zero',
    'capture',
    'published: shorter ckpt',
    ...profiles.flatMap((p) => [`p2b (${p})`, `Δ (pts)`]),
    ...profiles.map((p) => `p2b+zero (${p})`),
  ];
  const rows = avgs.map((a) => [
    a.guest,
    pct(a.published.stored),
    pct(a.reduction.p2b),
    signed(a.reduction.p2b - a.published.stored),
    pct(a.reduction['p2b+zero']),
    pct(a.reduction['oracle+zero']),
    pct(a.capture),
    pct(a.published.time),
    ...profiles.flatMap((p) => [
      pct(a.ckptReduction[p]!.p2b),
      signed(a.ckptReduction[p]!.p2b - a.published.time),
    ]),
    ...profiles.map((p) => pct(a.ckptReduction[p]!['p2b+zero'])),
  ]);
  return table(head, rows);
}
