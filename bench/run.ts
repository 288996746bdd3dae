/**
 * `npm run bench`: runs the benchmarks, prints one table (measured, baseline measured in the same
 * run, ratio, target, met?) and writes bench/results/<name>.json. Each benchmark module runs in its
 * own Node process (with --expose-gc), so memory numbers and JIT state do not leak between them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { hasherKind } from '../core/hash.ts';
import { BENCHMARKS, MODULES, modulesFor } from './benchmarks.ts';
import type { BenchResult, BenchScale } from './lib/result.ts';
import { markdownTable } from './lib/table.ts';

interface Opts {
  only?: string;
  scale: BenchScale;
  save: boolean;
  cold: boolean;
  json?: boolean;
  inProcess?: boolean;
  report?: boolean;
  child?: string;
  scratch?: string;
  out?: string;
}

const program = new Command('bench')
  .description('Runs the performance benchmarks and compares each with its baseline and target.')
  .option('--only <names>', `comma-separated benchmarks: ${Object.keys(BENCHMARKS).join(', ')}`)
  .addOption(
    new Option('--scale <scale>', "sizes: full (the issue's) or tiny (seconds)")
      .choices(['full', 'tiny'])
      .default('full'),
  )
  .option('--no-save', 'do not write bench/results/*.json')
  .option('--no-cold', 'restore from a warm page cache (by default it is dropped first, if root)')
  .option('--json', 'print the results as JSON instead of a table')
  .option('--report', 'print the table of the saved results (bench/results) without running anything')
  .option('--in-process', 'run every benchmark in this process (memory numbers are then less exact)')
  .addOption(new Option('--child <module>').hideHelp())
  .addOption(new Option('--scratch <dir>').hideHelp())
  .addOption(new Option('--out <file>').hideHelp())
  .addHelpText(
    'after',
    `
Examples:
  npm run bench                                   all seven at full size (10-20 minutes on 2 cores)
  npm run bench -- --only tracker-throughput      one benchmark
  npm run bench -- --only checkpoint-write,restore --json
  npm run bench -- --scale tiny --no-save         a quick check that every benchmark runs
  npm run bench -- --report                       the table of the last saved results`,
  );

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function runModule(name: string, o: Opts, scratch: string): Promise<BenchResult[]> {
  const run = await MODULES[name]!();
  return run({ scale: o.scale, scratch, log, coldCache: o.cold });
}

function runChild(name: string, o: Opts, scratch: string): BenchResult[] {
  const out = join(scratch, `${name}.result.json`);
  const args = ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', name, '--scale', o.scale];
  if (!o.cold) args.push('--no-cold');
  const r = spawnSync(process.execPath, [...args, '--scratch', scratch, '--out', out], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`benchmark ${name} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(readFileSync(out, 'utf8')) as BenchResult[];
}

async function main(o: Opts): Promise<void> {
  if (o.child) {
    writeFileSync(o.out!, JSON.stringify(await runModule(o.child, o, o.scratch!)));
    return;
  }
  const wanted = o.only ? o.only.split(',').map((s) => s.trim()) : Object.keys(BENCHMARKS);
  const modules = modulesFor(wanted);
  if (o.report) {
    const dir = join(import.meta.dirname, 'results');
    const saved = wanted.map((n) => JSON.parse(readFileSync(join(dir, `${n}.json`), 'utf8')) as BenchResult);
    console.log(markdownTable(saved));
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'leanckpt-bench-'));
  const results: BenchResult[] = [];
  try {
    for (const m of modules) {
      const got = o.inProcess ? await runModule(m, o, scratch) : runChild(m, o, scratch);
      results.push(...got.filter((r) => wanted.includes(r.name)));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const env = {
    scale: o.scale,
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? '',
    date: new Date().toISOString(),
    hash: await hasherKind(),
  };
  if (o.save) {
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    for (const r of results)
      writeFileSync(join(dir, `${r.name}.json`), `${JSON.stringify({ ...r, ...env }, null, 2)}\n`);
  }
  if (o.json) console.log(JSON.stringify({ ...env, results }, null, 2));
  else console.log(markdownTable(results));
}

program.parse();
try {
  await main(program.opts<Opts>());
} catch (err) {
  // A bad --only, or a benchmark that failed (its own output says why): a message, not a stack.
  console.error(`bench: ${(err as Error).message}`);
  process.exitCode = err instanceof RangeError ? 2 : 1;
}
