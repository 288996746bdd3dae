/**
 * `leanckpt experiment paper`: every guest kind x workload x seed, summarised into the tables, CSV,
 * JSON and charts of docs/experiments.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { GuestKindName } from '../guests/index.ts';
import type { WorkloadName } from '../workloads/index.ts';
import { SCHEMES, type CaseResult, type CaseSpec } from './case.ts';
import { captureChart, reductionChart, renderSvg, sizeOverTimeChart, timeChart } from './charts.ts';
import { costParams, type CostParams, type CostProfileName } from './cost-model.ts';
import { runCases, type PoolProgress } from './pool.ts';
import { guestAverages, summarizeCase, type CaseSummary, type GuestAverage } from './summary.ts';
import { averagesTable, guestTables } from './tables.ts';

export interface PaperOptions {
  readonly guests: readonly GuestKindName[];
  readonly workloads: readonly WorkloadName[];
  readonly seeds: readonly number[];
  readonly memBytes: number;
  readonly diskBytes?: number;
  readonly events?: number;
  readonly checkpoints: number;
  readonly epochEvents: number;
  readonly jobs: number;
  readonly profile: CostProfileName;
  readonly costOverrides: Partial<CostParams>;
  readonly measure: boolean;
  /** The command line that reproduces this run, for the report. */
  readonly command: string;
}

export interface PaperResult {
  readonly command: string;
  readonly options: PaperOptions;
  readonly cost: CostParams;
  readonly seconds: number;
  readonly machine: { readonly cpus: number; readonly cpu: string; readonly node: string };
  readonly summaries: CaseSummary[];
  readonly averages: GuestAverage[];
  readonly cases: CaseResult[];
}

export async function runPaper(o: PaperOptions, onProgress?: PoolProgress): Promise<PaperResult> {
  const started = performance.now();
  costParams(o.profile, o.costOverrides); // reject bad parameters before hours of work
  const specs: CaseSpec[] = o.guests.flatMap((guest) =>
    o.workloads.flatMap((workload) =>
      o.seeds.map((seed) => ({
        guest,
        workload,
        seed,
        memBytes: o.memBytes,
        ...(o.diskBytes !== undefined ? { diskBytes: o.diskBytes } : {}),
        ...(o.events !== undefined ? { events: o.events } : {}),
        checkpoints: o.checkpoints,
        epochEvents: o.epochEvents,
        measure: o.measure,
      })),
    ),
  );
  const cases = await runCases(specs, o.jobs, onProgress);
  return summarize(o, cases, (performance.now() - started) / 1000);
}

/** Tables from case results, costed with the options' model: also re-costs a saved run (--from). */
export function summarize(o: PaperOptions, cases: readonly CaseResult[], seconds: number): PaperResult {
  const cost = costParams(o.profile, o.costOverrides);
  const groups = (c: CostParams): CaseSummary[] =>
    o.guests.flatMap((g) =>
      o.workloads.map((w) =>
        summarizeCase(
          cases.filter((r) => r.guest === g && r.workload === w),
          c,
        ),
      ),
    );
  const summaries = groups(cost);
  // Time reductions under both profiles (the chosen one with its overrides), for the averages table.
  const other: CostProfileName = o.profile === 'ssd' ? 'disk2011' : 'ssd';
  const averages = guestAverages(summaries, {
    [o.profile]: summaries,
    [other]: groups(costParams(other)),
  });
  const cpu = cpus()[0]?.model ?? 'unknown';
  return {
    command: o.command,
    options: o,
    cost,
    seconds,
    machine: { cpus: cpus().length, cpu, node: process.version },
    summaries,
    averages,
    cases: [...cases],
  };
}

/** One CSV row per case, seed, checkpoint and scheme: everything the tables are computed from. */
export function toCsv(r: PaperResult): string {
  const head =
    'guest,workload,seed,mem_bytes,checkpoint,events,scheme,image_bytes,baseline_bytes,reduction,mapped_pages,zero_pages,data_pages,captured_pages,oracle_pages';
  const lines = r.cases.flatMap((c) =>
    c.checkpoints.flatMap((row) =>
      SCHEMES.map((s) => {
        const w = row.schemes[s];
        const b = row.schemes.baseline.bytes;
        return [
          c.guest,
          c.workload,
          c.seed,
          c.memBytes,
          row.name,
          row.events,
          s,
          w.bytes,
          b,
          (1 - w.bytes / b).toFixed(6),
          w.mapped,
          w.zero,
          w.data,
          row.captured,
          row.oraclePages,
        ].join(',');
      }),
    ),
  );
  return `${[head, ...lines].join('\n')}\n`;
}

export const CHARTS = {
  reduction: 'reduction.svg',
  time: 'time-breakdown.svg',
  sizeOverTime: 'size-over-time.svg',
  capture: 'capture.svg',
} as const;

/** The generated part of docs/experiments.md: run facts, averages, per-guest tables, charts. */
export function reportMarkdown(r: PaperResult, chartDir: string): string {
  const o = r.options;
  const c = r.cost;
  const mins = (r.seconds / 60).toFixed(1);
  const chart = (file: string, alt: string): string => `![${alt}](${join(chartDir, file)})`;
  const seeds =
    o.seeds.length > 1 ? `${o.seeds.length} seeds (${o.seeds.join(', ')}), mean ±sd` : `seed ${o.seeds[0]}`;
  return [
    `Command: \`${r.command}\` — ${mins} min on ${r.machine.cpus} × ${r.machine.cpu}, Node ${r.machine.node}, ${o.jobs} worker(s).`,
    '',
    `Guest memory ${o.memBytes / 2 ** 20} MiB, ${seeds}, ${o.checkpoints} periodic checkpoints per run, epoch delivery every ${o.epochEvents} events.`,
    `Cost model \`${o.profile}\`: write ${c.writeBandwidth / 1e6} MB/s, read ${c.readBandwidth / 1e6} MB/s, ` +
      `${c.accessSeconds * 1000} ms per disk read, copy ${c.copyRate / 1e9} GB/s, hash ${c.hashRate / 1e9} GB/s, ` +
      `zero scan ${c.zeroScanRate / 1e9} GB/s, ${c.fixedSeconds * 1000} ms fixed per checkpoint.`,
    '',
    '#### Averages over workloads, beside the published averages',
    '',
    averagesTable(r.averages),
    '',
    `Every measured image restored and verified page for page: ${r.summaries.every((s) => s.verified) ? 'yes' : 'NO'}; ` +
      `mapping entries found wrong at a checkpoint: ${r.summaries.reduce((a, s) => a + s.demoted, 0)}.`,
    '',
    '#### Charts',
    '',
    chart(CHARTS.reduction, 'stored-data reduction per workload and guest kind'),
    '',
    chart(CHARTS.time, 'modeled checkpoint time by step'),
    '',
    chart(CHARTS.sizeOverTime, 'image size at each periodic checkpoint'),
    '',
    chart(CHARTS.capture, 'capture ratio'),
    '',
    '#### Per guest kind',
    '',
    guestTables(r.summaries),
  ].join('\n');
}

const BEGIN = '<!-- experiment:begin (generated by leanckpt experiment paper --doc) -->';
const END = '<!-- experiment:end -->';

export interface Written {
  readonly files: string[];
}

/** Writes results.json, results.csv and the charts to `out`, and report.md there or into `doc`. */
export async function writePaperOutputs(r: PaperResult, out: string, doc?: string): Promise<Written> {
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    const path = join(out, name);
    writeFileSync(path, text);
    files.push(path);
  };
  put('results.json', `${JSON.stringify(r, null, 1)}\n`);
  put('results.csv', toCsv(r));
  const profile = r.options.profile;
  put(CHARTS.reduction, await renderSvg(reductionChart(r.summaries)));
  put(CHARTS.time, await renderSvg(timeChart(r.summaries, profile)));
  put(CHARTS.sizeOverTime, await renderSvg(sizeOverTimeChart(r.cases)));
  put(CHARTS.capture, await renderSvg(captureChart(r.summaries)));
  // With a document to update, the report goes there only, not also beside the data.
  if (!doc) put('report.md', `${reportMarkdown(r, '.')}\n`);
  else {
    const text = readFileSync(doc, 'utf8');
    const a = text.indexOf(BEGIN);
    const b = text.indexOf(END);
    if (a < 0 || b < a) throw new RangeError(`${doc} has no ${BEGIN} ... ${END} section to replace`);
    const rel = relative(dirname(doc), out) || '.';
    writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n\n${reportMarkdown(r, rel)}\n${text.slice(b)}`);
    files.push(doc);
  }
  return { files };
}
