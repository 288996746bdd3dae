/**
 * What every benchmark reports: rows of (measured, baseline measured in the same run, ratio, target),
 * plus the details that explain them. The runner prints the rows as one table and writes each
 * benchmark's result to bench/results/<name>.json.
 */
export interface BenchRow {
  /** What is measured, e.g. "pipeline events/s". */
  readonly measure: string;
  readonly measured: number;
  readonly unit: string;
  /** The reference measured in the same run (or the budget, for memory), and what it is. */
  readonly baseline: number | null;
  readonly baselineName: string;
  /** measured / baseline, or the ratio the target is stated in. */
  readonly ratio: number | null;
  /** The target in words, e.g. ">= 0.5x bare loop". */
  readonly target: string;
  /** Whether the target is met; null for rows that are reported without a target. */
  readonly met: boolean | null;
}

export interface BenchResult {
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly rows: readonly BenchRow[];
  readonly details: Readonly<Record<string, unknown>>;
}

/** Sizes of one run: `full` is what the issue specifies, `tiny` is the smoke test's. */
export type BenchScale = 'tiny' | 'full';

export interface BenchOptions {
  readonly scale: BenchScale;
  /** Where scratch files go (images, disk files); removed afterwards. */
  readonly scratch: string;
  readonly log: (line: string) => void;
  /** Drop the page cache before each restore when permitted (`npm run bench` does, tests do not). */
  readonly coldCache?: boolean;
}

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

export function row(
  measure: string,
  measured: number,
  unit: string,
  baseline: number | null,
  baselineName: string,
  target: string,
  met: boolean | null,
  ratio: number | null = baseline === null ? null : measured / baseline,
): BenchRow {
  return { measure, measured, unit, baseline, baselineName, ratio, target, met };
}

/** Seconds taken by `fn`. */
export async function seconds(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}
