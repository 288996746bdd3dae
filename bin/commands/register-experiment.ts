import { InvalidArgumentError, Option, type Command } from 'commander';
import { byteSize, positiveInt } from '../options.ts';
import type { PaperCliOptions } from './experiment.ts';

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}

function nonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a number >= 0, got "${value}"`);
    return n;
  };
}

/** Declares the `experiment` commands on the program (owned by the experiment work; kept apart from cli.ts). */
export function registerExperimentCommands(program: Command): void {
  const experiment = program
    .command('experiment')
    .description('Experiments on simulated guests whose results go into a paper.');
  experiment
    .command('paper')
    .description(
      'For every guest kind, workload and seed: baseline, p2b (precise, epoch, epoch+revalidate), +zero and\n' +
        'the oracle on the same simulated run; stored bytes, capture ratio, modeled and measured checkpoint\n' +
        'and restore times. Writes results.json, results.csv, SVG charts and report.md (or --doc) to --out.',
    )
    .option(
      '--quick',
      'small guests (32 MiB, 12 GiB disk, 20k events, 2 checkpoints): a smoke run of about a minute',
    )
    .option('--seeds <n|list>', 'seeds: a count (1..n) or a list like 1,7,42; with several, mean ±sd', '1')
    .option('--mem <size>', 'guest memory (default 1G, 32M with --quick)', byteSize('--mem'))
    .option('--disk <size>', "disk size (default: the simulator's, 12G with --quick)", byteSize('--disk'))
    .option('--events <n>', "run length in events (default: the workload's)", positiveInt('--events'))
    .option('--guests <list>', 'comma-separated guest kinds (default: all four)')
    .option('--workloads <list>', 'comma-separated workloads (default: all)')
    .option('--jobs <n>', 'worker threads running cases in parallel', positiveInt('--jobs'), 1)
    .option(
      '--checkpoints <n>',
      'periodic checkpoints per run (default 4, 2 with --quick)',
      positiveInt('--checkpoints'),
    )
    .option(
      '--epoch <events>',
      'events per epoch for the epoch delivery schemes',
      positiveInt('--epoch'),
      1024,
    )
    .option('--out <dir>', 'where results, report and charts go', 'experiment-results')
    .option('--doc <file>', 'also replace the generated section of this Markdown file (docs/experiments.md)')
    .option(
      '--from <results.json>',
      'no simulation: re-cost and re-render a saved run (its cost flags apply)',
    )
    .option('--no-measure', 'skip writing and restoring the real images (modeled times only)')
    .addOption(
      new Option('--cost-profile <name>', 'cost model defaults: ssd (this machine) or disk2011')
        .choices(['ssd', 'disk2011'])
        .default('ssd'),
    )
    .option('--write-bw <MB/s>', 'cost model: image write bandwidth', positiveNumber('--write-bw'))
    .option('--read-bw <MB/s>', 'cost model: image and disk read bandwidth', positiveNumber('--read-bw'))
    .option('--access-ms <ms>', 'cost model: time per disk read at restore', nonNegative('--access-ms'))
    .option('--copy-rate <GB/s>', 'cost model: page copy rate', positiveNumber('--copy-rate'))
    .option('--hash-rate <GB/s>', 'cost model: page hash rate', positiveNumber('--hash-rate'))
    .option('--zero-scan-rate <GB/s>', 'cost model: zero-page check rate', positiveNumber('--zero-scan-rate'))
    .option('--fixed-ms <ms>', 'cost model: fixed time per checkpoint', nonNegative('--fixed-ms'))
    .option('--json', 'print the summaries and averages as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt experiment paper --quick',
        'leanckpt experiment paper --jobs 2 --out docs/experiments --doc docs/experiments.md',
        'leanckpt experiment paper --quick --seeds 5 --guests pv-linux,hvm-windows --workloads file-copy',
        'leanckpt experiment paper --mem 512M --cost-profile disk2011 --write-bw 80 --json',
        'leanckpt experiment paper --from docs/experiments/results.json --cost-profile disk2011 --out /tmp/d',
      ),
    )
    .action(async (opts: PaperCliOptions) => {
      const { paperCommand, fromSaved, writeOutputs, printPaper } = await import('./experiment.ts');
      const r = opts.from ? fromSaved(opts) : await paperCommand(opts, process.argv.slice(2));
      const files = await writeOutputs(r, opts);
      if (opts.json) {
        const { summaries, averages, cost, seconds, command } = r;
        process.stdout.write(
          `${JSON.stringify({ command, seconds, cost, averages, summaries, files }, null, 2)}\n`,
        );
      } else process.stdout.write(printPaper(r, files));
    });
}
