/** `leanckpt lab build` and `leanckpt lab run`: the Xen lab (a real Xen 4.17 host inside QEMU). */
import { buildLab, type BuildReport } from '../../backends/xen/lab/build.ts';
import { LabError } from '../../backends/xen/lab/errors.ts';
import { failureDetails, runScenario, type RunReport } from '../../backends/xen/lab/run.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

export interface LabBuildOptions {
  force?: boolean;
  installDeps?: boolean;
  mirror?: string;
}

export interface LabRunOptions {
  timeout?: number;
  set?: string[];
}

const toStderr = (line: string): void => void process.stderr.write(`lab: ${line}\n`);

/** Lab errors become exit codes: host problems and bad arguments 2, failed steps 1. */
export function exitErrorOf(err: unknown): unknown {
  if (!(err instanceof LabError)) return err;
  return new ExitError(err.message, err.kind === 'failed' ? EXIT.verificationFailed : EXIT.usage);
}

export async function labBuild(opts: LabBuildOptions): Promise<BuildReport> {
  try {
    return await buildLab({
      force: opts.force === true,
      installDeps: opts.installDeps === true,
      ...(opts.mirror ? { mirror: opts.mirror } : {}),
      progress: toStderr,
    });
  } catch (err) {
    throw exitErrorOf(err);
  }
}

export function printBuild(r: BuildReport): string {
  const lines = [
    `lab ${r.lab}: recipe ${r.recipeHash}, ready in ${r.seconds.toFixed(1)} s`,
    ...r.steps.map(
      (s) =>
        `  ${s.name.padEnd(10)} ${s.action === 'built' ? `built in ${s.seconds.toFixed(1)} s` : 'cached'}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export async function labRun(scenario: string, opts: LabRunOptions): Promise<RunReport> {
  try {
    return await runScenario({
      scenario,
      ...(opts.timeout ? { timeoutSeconds: opts.timeout } : {}),
      args: opts.set ?? [],
      progress: toStderr,
    });
  } catch (err) {
    throw exitErrorOf(err);
  }
}

export function printRun(r: RunReport): string {
  const lines = [
    `scenario ${r.scenario}: ${r.ok ? 'PASSED' : 'FAILED'} in ${r.wallSeconds.toFixed(1)} s` +
      (r.bootedAfter !== undefined ? ` (dom0 up after ${r.bootedAfter.toFixed(1)} s)` : ''),
    '',
    '| step | seconds | status |',
    '|---|---:|---|',
    ...r.steps.map((s) => `| ${s.name} | ${s.seconds.toFixed(2)} | ${s.status} |`),
    '',
    '| result | value |',
    '|---|---|',
    ...Object.entries(r.results).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...r.checks.map((c) => `check ${c.name}: ${c.ok ? 'ok' : 'FAIL'}${c.detail ? ` (${c.detail})` : ''}`),
    ...r.integrity.map((i) => `integrity ${i.guest}: ${i.ok ? 'OK' : 'CORRUPT'} ${i.detail}`),
    `retried steps: ${r.retried.length === 0 ? 'none' : r.retried.join(', ')}`,
    `run dir: ${r.runDir}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The failure a finished run becomes at the command line (exit 1), with its logs' tails. */
export function runFailure(r: RunReport): ExitError {
  return new ExitError(failureDetails(r), EXIT.verificationFailed);
}
