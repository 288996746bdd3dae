/**
 * Runs the leanckpt command (or any node script) as a child process, asynchronously.
 *
 * Why not spawnSync: vitest's worker reports to the runner over an RPC channel whose calls time out after
 * 60 s, and a worker blocked in spawnSync cannot read the replies. A file of synchronous CLI runs on a
 * loaded 2-core CI machine crossed that limit: every test passed and the run still failed.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(PROJECT_ROOT, 'bin/leanckpt.ts');

export interface CliResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  out: string;
  err: string;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `node <nodeArgs...>` and collects its output. */
export function runNode(nodeArgs: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', fail);
    child.on('close', (code) =>
      done({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') }),
    );
  });
}

/** Runs `leanckpt <args...>` from the sources, as a user would. */
export function leanckpt(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return runNode(['--import', 'tsx', ENTRY, ...args], options);
}
