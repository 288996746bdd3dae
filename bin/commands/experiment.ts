/** `leanckpt experiment paper`: option checking, progress, and the files a run writes. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CostParams, CostProfileName } from '../../sim/experiments/cost-model.ts';
import { runPaper, summarize, writePaperOutputs, type PaperResult } from '../../sim/experiments/paper.ts';
import { GUEST_KINDS, WORKLOADS, type GuestKindName, type WorkloadName } from '../../sim/index.ts';
import { EXIT, ExitError } from '../exit-codes.ts';
import { progressBar } from '../progress.ts';

export interface PaperCliOptions {
  quick?: boolean;
  seeds: string;
  mem?: number;
  disk?: number;
  events?: number;
  guests?: string;
  workloads?: string;
  jobs: number;
  checkpoints?: number;
  epoch: number;
  out: string;
  from?: string;
  doc?: string;
  json?: boolean;
  measure: boolean;
  costProfile: CostProfileName;
  writeBw?: number;
  readBw?: number;
  accessMs?: number;
  copyRate?: number;
  hashRate?: number;
  zeroScanRate?: number;
  fixedMs?: number;
}

/** --quick: every guest kind and workload, small enough to finish in well under a minute. */
// hvm-windows needs 8 GiB of system files plus the database's data file: 12 GiB is the smallest
// round size every case fits.
const QUICK = { mem: 32 * 2 ** 20, disk: 12 * 2 ** 30, events: 20_000, checkpoints: 2 };
const FULL = { mem: 2 ** 30, checkpoints: 4 };

function list<T extends string>(what: string, text: string | undefined, choices: Record<T, unknown>): T[] {
  if (text === undefined) return Object.keys(choices) as T[];
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (!(n in choices))
      throw new ExitError(
        `unknown ${what} "${n}"; choose from: ${Object.keys(choices).join(', ')}`,
        EXIT.usage,
      );
  }
  if (names.length === 0) throw new ExitError(`--${what}s needs at least one name`, EXIT.usage);
  return [...new Set(names)] as T[];
}

/** "3" is seeds 1..3; "1,7,42" is those seeds. */
export function parseSeeds(text: string): number[] {
  const bad = (): never => {
    throw new ExitError(`--seeds must be a count like 3 or a list like 1,7,42, got "${text}"`, EXIT.usage);
  };
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 1000) bad();
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const seeds = text.split(',').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : bad()));
  if (seeds.some((s) => !Number.isSafeInteger(s) || s < 1)) bad();
  return [...new Set(seeds)];
}

function costOverrides(o: PaperCliOptions): Partial<CostParams> {
  const over: { -readonly [K in keyof CostParams]?: number } = {};
  if (o.writeBw !== undefined) over.writeBandwidth = o.writeBw * 1e6;
  if (o.readBw !== undefined) over.readBandwidth = o.readBw * 1e6;
  if (o.accessMs !== undefined) over.accessSeconds = o.accessMs / 1000;
  if (o.copyRate !== undefined) over.copyRate = o.copyRate * 1e9;
  if (o.hashRate !== undefined) over.hashRate = o.hashRate * 1e9;
  if (o.zeroScanRate !== undefined) over.zeroScanRate = o.zeroScanRate * 1e9;
  if (o.fixedMs !== undefined) over.fixedSeconds = o.fixedMs / 1000;
  return over;
}

export async function paperCommand(o: PaperCliOptions, argv: readonly string[]): Promise<PaperResult> {
  const guests = list<GuestKindName>('guest', o.guests, GUEST_KINDS);
  const workloads = list<WorkloadName>('workload', o.workloads, WORKLOADS);
  const seeds = parseSeeds(o.seeds);
  const preset = o.quick ? QUICK : FULL;
  const memBytes = o.mem ?? preset.mem;
  if (memBytes < 32 * 2 ** 20 || memBytes > 16 * 2 ** 30)
    throw new ExitError(`--mem must be between 32M and 16G, got ${memBytes} bytes`, EXIT.usage);
  const diskBytes = o.disk ?? (o.quick ? QUICK.disk : undefined);
  const events = o.events ?? (o.quick ? QUICK.events : undefined);
  const total = guests.length * workloads.length * seeds.length;
  const bar = progressBar('experiment', total, !o.json);
  const logLines = !process.stderr.isTTY;
  let done = 0;
  const t0 = performance.now();
  try {
    const result = await runPaper(
      {
        guests,
        workloads,
        seeds,
        memBytes,
        ...(diskBytes !== undefined ? { diskBytes } : {}),
        ...(events !== undefined ? { events } : {}),
        checkpoints: o.checkpoints ?? preset.checkpoints,
        epochEvents: o.epoch,
        jobs: o.jobs,
        profile: o.costProfile,
        costOverrides: costOverrides(o),
        measure: o.measure,
        command: `leanckpt ${argv.join(' ')}`,
      },
      (_i, spec, p) => {
        const name = `${spec.guest}/${spec.workload} seed ${spec.seed}`;
        if (p === 'done') {
          done++;
          bar.update(done, name);
          if (logLines)
            process.stderr.write(
              `[${done}/${total}] ${name} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
            );
        } else bar.update(done, `${name}: ${p.phase} ${Math.round((100 * p.events) / p.totalEvents)} %`);
      },
    );
    return result;
  } catch (err) {
    if (err instanceof RangeError) throw new ExitError(err.message, EXIT.usage);
    throw err;
  } finally {
    bar.stop();
  }
}

/** Re-costs and re-renders a saved run (its results.json) without simulating again. */
export function fromSaved(o: PaperCliOptions): PaperResult {
  const path = o.from!;
  let saved: PaperResult;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as PaperResult;
  } catch (err) {
    throw new ExitError(
      `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
      EXIT.usage,
    );
  }
  if (!saved || !Array.isArray(saved.cases) || typeof saved.options !== 'object')
    throw new ExitError(`${path} is not a results.json written by leanckpt experiment paper`, EXIT.usage);
  try {
    const options = { ...saved.options, profile: o.costProfile, costOverrides: costOverrides(o) };
    return {
      ...summarize(options, saved.cases, saved.seconds),
      command: saved.command,
      machine: saved.machine,
    };
  } catch (err) {
    if (err instanceof RangeError) throw new ExitError(err.message, EXIT.usage);
    throw err;
  }
}

export async function writeOutputs(r: PaperResult, o: PaperCliOptions): Promise<string[]> {
  try {
    return (await writePaperOutputs(r, resolve(o.out), o.doc ? resolve(o.doc) : undefined)).files;
  } catch (err) {
    if (err instanceof RangeError) throw new ExitError(err.message, EXIT.usage);
    throw err;
  }
}

/** What the command prints without --json: the averages and where everything went. */
export function printPaper(r: PaperResult, files: readonly string[]): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const rows = r.averages.map(
    (a) =>
      `  ${a.guest.padEnd(12)} less data p2b ${pct(a.reduction.p2b).padStart(7)} (published ${pct(a.published.stored)}), ` +
      `p2b+zero ${pct(a.reduction['p2b+zero']).padStart(7)}, capture ${pct(a.capture).padStart(7)}, ` +
      `shorter ckpt (${r.options.profile}) ${pct(a.ckptReduction[r.options.profile]!.p2b).padStart(7)} (published ${pct(a.published.time)})`,
  );
  return [
    `leanckpt experiment paper: ${r.cases.length} runs in ${r.seconds.toFixed(1)} s`,
    ...rows,
    `verified: ${r.summaries.every((s) => s.verified) ? 'every measured image' : 'NOT ALL IMAGES'}`,
    'wrote:',
    ...files.map((f) => `  ${f}`),
    '',
  ].join('\n');
}
