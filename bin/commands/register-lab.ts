import { Option, type Command } from 'commander';
import { positiveInt } from '../options.ts';

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Declares the `lab` commands on the program (owned by the lab work; kept apart from cli.ts). */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'The Xen lab: a real Xen 4.17 host (Debian dom0) inside QEMU, for end-to-end tests without a\n' +
        'Xen machine. Cache: $LEANCKPT_LAB_DIR (default ~/.cache/leanckpt/lab). See docs/lab.md.',
    );

  lab
    .command('build')
    .summary('build the nested Xen lab once (cached)')
    .description(
      'Build the lab once (dom0 with Xen 4.17.5, guest kernel, initramfs and data disks); later builds\n' +
        'redo only the steps whose inputs changed. Needs root, qemu, debootstrap and the Debian mirror.\n' +
        'Exit codes: 0 ready, 2 missing prerequisite (tool, root, network, disk space), 1 a step failed.',
    )
    .option('--force', 'rebuild every step')
    .option('--install-deps', 'as root, apt-get install missing host tools instead of failing')
    .option('--mirror <url>', 'Debian mirror (default $LEANCKPT_LAB_MIRROR or deb.debian.org)')
    .option('--json', 'print the build report as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt lab build',
        'leanckpt lab build --install-deps',
        'LEANCKPT_LAB_DIR=/srv/lab leanckpt lab build --json',
      ),
    )
    .action(async (opts: { force?: boolean; installDeps?: boolean; mirror?: string; json?: boolean }) => {
      const { labBuild, printBuild } = await import('./lab.ts');
      const report = await labBuild(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : printBuild(report));
    });

  lab
    .command('run')
    .summary('boot the lab, run a scenario in dom0, print its results')
    .description(
      'Boot Xen under QEMU (TCG), run a scenario in dom0, power off, and print its steps, results,\n' +
        'stream checks and guest integrity reports. Exit codes: 0 passed, 1 failed or timed out (the\n' +
        'tails of the serial log and guest consoles are printed), 2 bad usage or lab not built.',
    )
    .argument('<scenario>', 'a directory under backends/xen/lab/scenarios (e.g. baseline)')
    .option('--timeout <seconds>', 'limit for the whole run', positiveInt('--timeout'), 3600)
    .addOption(
      new Option('--set <key=value>', 'a scenario setting (repeatable), e.g. fs=1k or guests=pv').argParser(
        collect,
      ),
    )
    .option('--json', 'print the run report as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt lab run baseline',
        'leanckpt lab run baseline --json --timeout 5400',
        'leanckpt lab run baseline --set fs=1k --set guests=pv --set workload=mixed',
      ),
    )
    .action(async (scenario: string, opts: { timeout?: number; set?: string[]; json?: boolean }) => {
      const { labRun, printRun, runFailure } = await import('./lab.ts');
      const report = await labRun(scenario, opts);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : printRun(report));
      if (!report.ok) throw runFailure(report);
    });
}
