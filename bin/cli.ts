/**
 * Command declarations only. Each action parses its options into a typed object and imports its
 * command lazily, so `--help` stays fast and commands stay testable as plain functions.
 */
import { Command, InvalidArgumentError } from 'commander';

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a whole number >= 1, got "${value}"`);
    }
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('leanckpt')
    .description(
      'Fast, space-efficient VM checkpoints: pages that hold disk blocks are stored as references to\n' +
        'the disk, not as data. Exit codes: 0 ok, 1 verification failed (invalid image, or a page\n' +
        'a restore could not prove), 2 bad usage or input, 3 internal error, 4 backend unavailable,\n' +
        '130 interrupted.',
    )
    .showHelpAfterError('(run with --help for usage)')
    // Errors are thrown, not exited on, so bin/leanckpt.ts maps them to documented exit codes. Set
    // before the subcommands are declared: commander copies it into each.
    .exitOverride();

  program
    .command('demo')
    .description(
      'Run the built-in demo guest on the in-memory backend: checkpoint it (p2b, p2b+zero and baseline\n' +
        'images), restore every image from the disk snapshot, and verify it byte for byte.',
    )
    .option('--pages <n>', 'guest pages (4 KiB each)', positiveInt('--pages'), 16384)
    .option('--disk-sectors <n>', 'disk size in 512 B sectors', positiveInt('--disk-sectors'), 262144)
    .option('--seed <n>', 'workload seed: the same seed gives the same run', positiveInt('--seed'), 1)
    .option('--checkpoints <n>', 'checkpoints to take', positiveInt('--checkpoints'), 2)
    .option('--ops <n>', 'guest operations between checkpoints', positiveInt('--ops'), 4000)
    .option('--delivery <mode>', 'memory-write delivery: precise, epoch:N or epoch:N+revalidate', 'precise')
    .option('--out <dir>', 'keep the images in this directory (default: a temporary one, removed)')
    .option('--json', 'print the results as JSON')
    .action(async (opts: DemoCliOptions) => {
      const { demo, printDemo } = await import('./commands/demo.ts');
      const result = await demo(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : printDemo(result));
    });

  program
    .command('inspect')
    .description('Check an image (structure and every checksum, no disk needed) and summarise it.')
    .argument('<image>', 'a leanckpt image file')
    .option('--json', 'print the summary as JSON')
    .action(async (image: string, opts: { json?: boolean }) => {
      const { inspect, printInspect } = await import('./commands/inspect.ts');
      const summary = await inspect(image);
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : printInspect(summary));
    });

  return program;
}

export interface DemoCliOptions {
  pages: number;
  diskSectors: number;
  seed: number;
  checkpoints: number;
  ops: number;
  delivery: string;
  out?: string;
  json?: boolean;
}
