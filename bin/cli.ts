/**
 * Command declarations only. Each action parses its options into a typed object and imports its
 * command lazily, so `--help` stays fast and commands stay testable as plain functions.
 */
import { Command, Option } from 'commander';
import { registerExperimentCommands } from './commands/register-experiment.ts';
import { registerLabCommands } from './commands/register-lab.ts';
import { registerXenCommands } from './commands/register-xen.ts';
import { VERSION } from './version.ts';
import {
  addDeliveryOptions,
  addReadSemanticsOptions,
  byteSize,
  positiveInt,
  type DeliveryFlags,
  type ReadSemanticsFlags,
} from './options.ts';

const out = (text: string): void => void process.stdout.write(text);
const json = (value: unknown): void => out(`${JSON.stringify(value, null, 2)}\n`);
const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
const policyOption = (): Option =>
  new Option('--policy <policy>', 'image kind: p2b, or p2b+zero (all-zero pages stored as a bitmap too)')
    .choices(['p2b', 'p2b+zero'])
    .default('p2b+zero');

export function buildProgram(): Command {
  const program = new Command('leanckpt')
    .description(
      'Fast, space-efficient VM checkpoints: pages that hold disk blocks are stored as references to\n' +
        'the disk, not as data. Exit codes: 0 ok, 1 verification failed (invalid image, or a page\n' +
        'a restore could not prove), 2 bad usage or input, 3 internal error, 4 the backend failed,\n' +
        '5 the system refused an operation (no space, no permission, an I/O error),\n' +
        '130 interrupted.',
    )
    .version(VERSION, '-V, --version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)')
    // Descriptions are written as ~100-column lines; a wider help keeps commander from re-wrapping them.
    .configureHelp({ helpWidth: 120 })
    // Errors are thrown, not exited on, so bin/leanckpt.ts maps them to documented exit codes. Set
    // before the subcommands are declared: commander copies it into each.
    .exitOverride()
    .addHelpText(
      'after',
      examples(
        'leanckpt simulate --guest pv-linux --workload kernel-build --mem 1G',
        'leanckpt simulate --workload postmark --mem 256M --record run.lctrace',
        'leanckpt replay run.lctrace --delivery epoch --epoch 4096 --revalidate',
        'leanckpt trace stats run.lctrace',
      ),
    );

  addDeliveryOptions(
    program
      .command('simulate')
      .description(
        'Simulate a guest running a workload, checkpoint it, restore every image from the disk snapshot\n' +
          'of its checkpoint and verify it byte for byte. Same seed, same numbers.',
      )
      .option('--guest <kind>', 'guest kind: pv-linux, pvhvm-linux, hvm-linux, hvm-windows', 'pv-linux')
      .option('--workload <name>', 'workload (see --list)', 'kernel-build')
      .option('--mem <size>', 'guest memory, e.g. 1G or 512M (up to 16G)', byteSize('--mem'), 2 ** 30)
      .option('--seed <n>', 'seed of the simulation', positiveInt('--seed'), 1)
      .option(
        '--events <n>',
        'length of the run in events (default: depends on workload and memory)',
        positiveInt('--events'),
      )
      .option(
        '--checkpoint-every <ops>',
        'periodic checkpoints every N guest operations (default: one at the end)',
        positiveInt('--checkpoint-every'),
      )
      .option(
        '--record <trace>',
        'also record the event stream (binary if it ends in .lctrace, else JSON Lines)',
      )
      .addOption(policyOption())
      .option('--keep-images <dir>', 'keep the images in this directory')
      .option('--list', 'list guest kinds and workloads, and exit')
      .option('--json', 'print one JSON result'),
  )
    .addHelpText(
      'after',
      examples(
        'leanckpt simulate',
        'leanckpt simulate --guest hvm-windows --workload desktop --mem 2G --seed 7',
        'leanckpt simulate --workload database --checkpoint-every 20000 --json',
      ),
    )
    .action(async (opts: SimulateCliOptions) => {
      const { simulateCommand, listKinds } = await import('./commands/simulate.ts');
      if (opts.list) return out(listKinds());
      const { printReplay, failIfUnverified } = await import('./commands/replay-report.ts');
      const r = await simulateCommand(opts);
      if (opts.json) json(r);
      else out(printReplay(r, `leanckpt simulate: ${opts.guest} / ${opts.workload}, seed ${opts.seed}`));
      failIfUnverified(r);
    });

  addReadSemanticsOptions(
    addDeliveryOptions(
      program
        .command('replay')
        .description(
          'Replay a trace: give its events content, track pages, write an image at every checkpoint,\n' +
            'restore each from the disk snapshot of its checkpoint, and verify it byte for byte.',
        )
        .argument('<trace>', 'a trace file (JSON Lines or binary, optionally gzipped)')
        .addOption(policyOption())
        .option('--keep-images <dir>', 'keep the images in this directory')
        .option('--json', 'print one JSON result'),
    ),
  )
    .addHelpText(
      'after',
      examples(
        'leanckpt replay traces/samples/rule-09-inflight-at-checkpoint.jsonl',
        'leanckpt replay run.lctrace --delivery epoch --epoch 1024 --revalidate --json',
        'leanckpt replay guest.lctrace --revalidate   # recorded by xen create --record, replayed as tracked',
        'leanckpt replay old-xen.lctrace --revalidate --reads-land-at-completion   # recorded before the header said so',
      ),
    )
    .action(async (trace: string, opts: ReplayCliOptions) => {
      const { replayTrace } = await import('./commands/replay.ts');
      const { printReplay, failIfUnverified } = await import('./commands/replay-report.ts');
      const r = await replayTrace(trace, opts);
      if (opts.json) json(r);
      else out(printReplay(r, `leanckpt replay: ${trace}`));
      failIfUnverified(r);
    });

  addReadSemanticsOptions(
    addDeliveryOptions(
      program
        .command('checkpoint')
        .description(
          "Replay a trace to one of its checkpoints and keep that checkpoint's image, with the disks it\n" +
            'references exported as raw files plus a manifest (disks.json) for `leanckpt restore`.',
        )
        .argument('<trace>', 'a trace file')
        .requiredOption('--out <image>', 'where the image goes')
        .option('--at <name>', 'the checkpoint to keep (default: the last one)')
        .option('--disks-out <dir>', 'where the disk files and disks.json go (default: <image>.disks)')
        .addOption(policyOption())
        .option('--json', 'print one JSON result'),
    ),
  )
    .addHelpText(
      'after',
      examples('leanckpt checkpoint traces/samples/rule-01-full-page-read.jsonl --at a --out a.lckpt'),
    )
    .action(async (trace: string, opts: CheckpointCliOptions) => {
      const { checkpoint } = await import('./commands/checkpoint.ts');
      const r = await checkpoint(trace, opts);
      if (opts.json) json(r);
      else
        out(
          `wrote ${r.image} (${r.mappedPages} mapped, ${r.zeroPages} zero, ${r.dataPages} data pages; ${r.imageBytes} bytes, verified)\ndisks: ${r.manifest}\n`,
        );
    });

  program
    .command('restore')
    .description(
      'Restore an image from raw disk files, proving every page: mapped pages are read in sector order\n' +
        'and checked against their hashes. Exit 1, naming the page and sector, if any does not match.',
    )
    .argument('<image>', 'a leanckpt image')
    .requiredOption(
      '--disks <manifest>',
      'disks.json naming the disk files (as `leanckpt checkpoint` writes)',
    )
    .option('--out <file>', 'write the restored guest memory to this raw file (page p at byte p * 4096)')
    .option('--json', 'print one JSON result')
    .addHelpText(
      'after',
      examples('leanckpt restore a.lckpt --disks a.lckpt.disks/disks.json --out memory.raw'),
    )
    .action(async (image: string, opts: { disks: string; out?: string; json?: boolean }) => {
      const { restore, printRestore } = await import('./commands/restore.ts');
      const r = await restore(image, opts);
      if (opts.json) json(r);
      else out(printRestore(r));
    });

  program
    .command('inspect')
    .description('Check an image (structure and every checksum, no disk needed) and summarise it.')
    .argument('<image>', 'a leanckpt image file')
    .option('--list', 'also list the mapped pages as [pfn, disk, sector]')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', examples('leanckpt inspect a.lckpt', 'leanckpt inspect a.lckpt --list --json'))
    .action(async (image: string, opts: { list?: boolean; json?: boolean }) => {
      const { inspect, printInspect } = await import('./commands/inspect.ts');
      const summary = await inspect(image, opts.list === true);
      if (opts.json) json(summary);
      else out(printInspect(summary));
    });

  const trace = program.command('trace').description('Trace files: validate, statistics, conversion.');
  trace
    .command('validate')
    .description('Read a whole trace and check every event; a bad one is reported with its line number.')
    .argument('<trace>')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples('leanckpt trace validate traces/samples/rule-03-subpage-write-and-discard.jsonl'),
    )
    .action(async (path: string, opts: { json?: boolean }) => {
      const { validate } = await import('./commands/trace.ts');
      const r = await validate(path);
      if (opts.json) json(r);
      else
        out(
          `${path}: valid ${r.format} trace, ${r.records} records, ${r.events} events, ${r.checkpoints} checkpoints\n`,
        );
    });
  trace
    .command('stats')
    .description('Counts per op, sectors moved, pages touched, checkpoints.')
    .argument('<trace>')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('leanckpt trace stats run.lctrace --json'))
    .action(async (path: string, opts: { json?: boolean }) => {
      const { stats, printStats } = await import('./commands/trace.ts');
      const r = await stats(path);
      if (opts.json) json(r);
      else out(printStats(path, r));
    });
  trace
    .command('convert')
    .description('Convert between JSON Lines and the compact binary format (chosen by the output name).')
    .argument('<in>')
    .argument('<out>', 'binary if it ends in .lctrace, else JSON Lines')
    .addOption(new Option('--format <format>', 'force the output format').choices(['jsonl', 'binary']))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('leanckpt trace convert run.jsonl run.lctrace'))
    .action(async (input: string, output: string, opts: { format?: 'jsonl' | 'binary'; json?: boolean }) => {
      const { convert } = await import('./commands/trace.ts');
      const r = await convert(input, output, opts.format);
      if (opts.json) json(r);
      else
        out(
          `${input} (${r.inBytes} bytes) -> ${output} (${r.bytes} bytes, ${r.format}, ${r.events} events)\n`,
        );
    });

  addDeliveryOptions(
    program
      .command('demo')
      .description(
        'Run the small in-memory demo guest (real bytes, no simulator): p2b, p2b+zero and baseline images\n' +
          'at each checkpoint, each restored from the frozen disks and compared byte for byte.',
      )
      .option('--pages <n>', 'guest pages (4 KiB each)', positiveInt('--pages'), 16384)
      .option('--disk-sectors <n>', 'disk size in 512 B sectors', positiveInt('--disk-sectors'), 262144)
      .option('--seed <n>', 'workload seed: the same seed gives the same run', positiveInt('--seed'), 1)
      .option('--checkpoints <n>', 'checkpoints to take', positiveInt('--checkpoints'), 2)
      .option('--ops <n>', 'guest operations between checkpoints', positiveInt('--ops'), 4000)
      .option('--out <dir>', 'keep the images in this directory (default: a temporary one, removed)')
      .option('--json', 'print the results as JSON'),
  )
    .addHelpText(
      'after',
      examples('leanckpt demo', 'leanckpt demo --delivery epoch --epoch 256 --revalidate --out imgs'),
    )
    .action(async (opts: DemoCliOptions) => {
      const { demo, printDemo } = await import('./commands/demo.ts');
      const result = await demo(opts);
      if (opts.json) json(result);
      else out(printDemo(result));
    });

  registerExperimentCommands(program);
  registerLabCommands(program);
  registerXenCommands(program);
  return program;
}

type PolicyName = 'p2b' | 'p2b+zero';

export interface SimulateCliOptions extends DeliveryFlags {
  guest: string;
  workload: string;
  mem: number;
  seed: number;
  events?: number;
  checkpointEvery?: number;
  record?: string;
  policy: PolicyName;
  keepImages?: string;
  list?: boolean;
  json?: boolean;
}

export interface ReplayCliOptions extends DeliveryFlags, ReadSemanticsFlags {
  policy: PolicyName;
  keepImages?: string;
  json?: boolean;
}

export interface CheckpointCliOptions extends DeliveryFlags, ReadSemanticsFlags {
  out: string;
  at?: string;
  disksOut?: string;
  policy: PolicyName;
  json?: boolean;
}

export interface DemoCliOptions extends DeliveryFlags {
  pages: number;
  diskSectors: number;
  seed: number;
  checkpoints: number;
  ops: number;
  out?: string;
  json?: boolean;
}
