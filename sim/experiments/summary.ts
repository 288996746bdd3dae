/**
 * From raw case results to the numbers in the tables: per case, each metric is averaged over the
 * run's checkpoints, then given as mean and spread over seeds; per guest kind, averaged over workloads.
 * Times are modeled here (not in the cases), so one set of results can be re-costed.
 */
import type { GuestKindName } from '../guests/index.ts';
import type { WorkloadName } from '../workloads/index.ts';
import { SCHEMES, type CaseResult, type CheckpointRow, type SchemeName } from './case.ts';
import { checkpointTime, restoreTime, type CostParams, type TimeBreakdown } from './cost-model.ts';

export interface Stat {
  readonly mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, min: NaN, max: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

type PerScheme<T> = Record<SchemeName, T>;

export interface RestoreSummary {
  /** Bytes read: the image, plus (p2b) the mapped pages' sectors from the disk. */
  readonly bytesRead: Stat;
  readonly modeledSeconds: Stat;
  /** Wall time of the real restore in this run (image from local disk, disk content in memory). */
  readonly measuredSeconds: Stat;
}

export interface CaseSummary {
  readonly guest: GuestKindName;
  readonly workload: WorkloadName;
  readonly seeds: number[];
  readonly checkpoints: number;
  readonly storedBytes: PerScheme<Stat>;
  readonly reduction: PerScheme<Stat>;
  /** Mapped pages / oracle pages, precise delivery. */
  readonly capture: Stat;
  /** The same per delivery mode. */
  readonly captureBy: Record<DeliveryName, Stat>;
  readonly ckptSeconds: PerScheme<Stat>;
  readonly ckptReduction: PerScheme<Stat>;
  /** Mean modeled breakdown (first seed) of the baseline, p2b and p2b+zero checkpoints. */
  readonly breakdown: Record<'baseline' | 'p2b' | 'p2b+zero', TimeBreakdown>;
  /** Wall time writing each image to local disk at the last checkpoint. */
  readonly measuredWrite: Record<'baseline' | 'p2b', Stat>;
  readonly restore: Record<'baseline' | 'p2b', RestoreSummary>;
  /** Every measured image restored and compared page for page with the guest. */
  readonly verified: boolean;
  /** Mapping entries whose sectors did not hold the page (must be 0). */
  readonly demoted: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * A scheme that elides zero pages checks every page it does not map, but a non-zero page shows a
 * non-zero word within its first bytes: only all-zero pages are read in full.
 */
function modeled(row: CheckpointRow, s: SchemeName, cost: CostParams): TimeBreakdown {
  const w = row.schemes[s];
  const scannedPages = s.endsWith('+zero') ? w.zero : 0;
  return checkpointTime(
    { imageBytes: w.bytes, dataPages: w.data, mappedPages: w.mapped, scannedPages },
    cost,
  );
}

export const DELIVERIES = ['precise', 'epoch', 'epoch+revalidate'] as const;
export type DeliveryName = (typeof DELIVERIES)[number];
const DELIVERY_SCHEME: Record<DeliveryName, SchemeName> = {
  precise: 'p2b',
  epoch: 'p2b-epoch',
  'epoch+revalidate': 'p2b-epoch+revalidate',
};

/** Mapped pages over oracle pages, summed over the run's checkpoints. */
function capture(r: CaseResult, d: DeliveryName): number {
  const oracle = r.checkpoints.reduce((a, x) => a + x.oraclePages, 0);
  // Precise: the mapped pages the oracle also found. Epoch runs are subsets of the same content
  // (verified entries only), so their mapped count is their captured count.
  const captured = r.checkpoints.reduce(
    (a, x) =>
      a + (d === 'precise' ? x.captured : Math.min(x.schemes[DELIVERY_SCHEME[d]].mapped, x.oraclePages)),
    0,
  );
  return oracle === 0 ? 1 : captured / oracle;
}

function meanBreakdown(rows: readonly CheckpointRow[], s: SchemeName, cost: CostParams): TimeBreakdown {
  const all = rows.map((r) => modeled(r, s, cost));
  const m = (k: keyof TimeBreakdown): number => mean(all.map((b) => b[k]));
  return {
    fixed: m('fixed'),
    copy: m('copy'),
    hash: m('hash'),
    zeroScan: m('zeroScan'),
    write: m('write'),
    total: m('total'),
  };
}

function perScheme<T>(f: (s: SchemeName) => T): PerScheme<T> {
  return Object.fromEntries(SCHEMES.map((s) => [s, f(s)])) as PerScheme<T>;
}

export function summarizeCase(runs: readonly CaseResult[], cost: CostParams): CaseSummary {
  const first = runs[0];
  if (!first) throw new Error('no runs to summarize');
  const over = (f: (r: CaseResult) => number): Stat => stat(runs.map(f));
  const bytes = (r: CaseResult, s: SchemeName): number => mean(r.checkpoints.map((c) => c.schemes[s].bytes));
  const time = (r: CaseResult, s: SchemeName): number =>
    mean(r.checkpoints.map((c) => modeled(c, s, cost).total));
  const last = (r: CaseResult): CheckpointRow => r.checkpoints.at(-1)!;
  const measuredOf = (r: CaseResult, image: 'baseline' | 'p2b') => r.measured.find((m) => m.image === image);
  const restoreOf = (image: 'baseline' | 'p2b'): RestoreSummary => {
    const work = (r: CaseResult) => {
      const w = last(r).schemes[image];
      const p2b = image === 'p2b';
      return {
        imageBytes: w.bytes,
        dataPages: w.data,
        mappedPages: w.mapped,
        diskReads: p2b ? last(r).restoreDiskReads : 0,
        diskBytes: p2b ? last(r).restoreDiskBytes : 0,
      };
    };
    return {
      bytesRead: over((r) => work(r).imageBytes + work(r).diskBytes),
      modeledSeconds: over((r) => restoreTime(work(r), cost).total),
      measuredSeconds: stat(runs.flatMap((r) => measuredOf(r, image)?.restoreSeconds ?? [])),
    };
  };
  return {
    guest: first.guest,
    workload: first.workload,
    seeds: runs.map((r) => r.seed),
    checkpoints: first.checkpoints.length,
    storedBytes: perScheme((s) => over((r) => bytes(r, s))),
    reduction: perScheme((s) => over((r) => 1 - bytes(r, s) / bytes(r, 'baseline'))),
    capture: over((r) => capture(r, 'precise')),
    captureBy: {
      precise: over((r) => capture(r, 'precise')),
      epoch: over((r) => capture(r, 'epoch')),
      'epoch+revalidate': over((r) => capture(r, 'epoch+revalidate')),
    },
    ckptSeconds: perScheme((s) => over((r) => time(r, s))),
    ckptReduction: perScheme((s) => over((r) => 1 - time(r, s) / time(r, 'baseline'))),
    breakdown: {
      baseline: meanBreakdown(first.checkpoints, 'baseline', cost),
      p2b: meanBreakdown(first.checkpoints, 'p2b', cost),
      'p2b+zero': meanBreakdown(first.checkpoints, 'p2b+zero', cost),
    },
    measuredWrite: {
      baseline: stat(runs.flatMap((r) => measuredOf(r, 'baseline')?.writeSeconds ?? [])),
      p2b: stat(runs.flatMap((r) => measuredOf(r, 'p2b')?.writeSeconds ?? [])),
    },
    restore: { baseline: restoreOf('baseline'), p2b: restoreOf('p2b') },
    verified: runs.every((r) => r.measured.every((m) => m.verified && m.sizeExact)),
    demoted: runs.reduce((a, r) => a + r.checkpoints.reduce((b, c) => b + c.demoted, 0), 0),
  };
}

/** The published per-guest-kind averages the tables are set beside. */
export const PUBLISHED: Readonly<Record<GuestKindName, { readonly stored: number; readonly time: number }>> =
  {
    'pv-linux': { stored: 0.86, time: 0.73 },
    'pvhvm-linux': { stored: 0.76, time: 0.62 },
    'hvm-linux': { stored: 0.53, time: 0.47 },
    'hvm-windows': { stored: 0.47, time: 0.38 },
  };

export interface GuestAverage {
  readonly guest: GuestKindName;
  readonly workloads: number;
  /** Mean over workloads of the stored-data reduction, per scheme. */
  readonly reduction: PerScheme<number>;
  /** Mean over workloads of the modeled checkpoint-time reduction, per scheme, per cost profile. */
  readonly ckptReduction: Record<string, PerScheme<number>>;
  readonly capture: number;
  readonly published: { readonly stored: number; readonly time: number };
}

export function guestAverages(
  summaries: readonly CaseSummary[],
  costs: Readonly<Record<string, readonly CaseSummary[]>>,
): GuestAverage[] {
  const guests = [...new Set(summaries.map((s) => s.guest))];
  return guests.map((guest) => {
    const of = (list: readonly CaseSummary[]) => list.filter((s) => s.guest === guest);
    const mine = of(summaries);
    return {
      guest,
      workloads: mine.length,
      reduction: perScheme((k) => mean(mine.map((s) => s.reduction[k].mean))),
      ckptReduction: Object.fromEntries(
        Object.entries(costs).map(([name, list]) => [
          name,
          perScheme((k) => mean(of(list).map((s) => s.ckptReduction[k].mean))),
        ]),
      ),
      capture: mean(mine.map((s) => s.capture.mean)),
      published: PUBLISHED[guest],
    };
  });
}
