/**
 * `npm run check:rules`: proves every invalidation rule is tested. For each entry of RULE_MUTATIONS it
 * deletes that rule's code in a scratch copy of the project and runs the core's tests there; the run
 * must fail. Prints a table and exits 1 if any deletion went unnoticed. Not part of `npm test`: it runs
 * the suite once per rule.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RULE_MUTATIONS } from './rule-mutations.ts';

const root = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'leanckpt-rules-'));
const TESTS = ['test/core/tracker', 'test/model', 'test/backends/sim/replay.test.ts', 'test/traces'];

function copyProject(): void {
  for (const entry of [
    'core',
    'backends',
    'sim',
    'traces',
    'test',
    'package.json',
    'tsconfig.json',
    'vitest.config.ts',
  ]) {
    cpSync(join(root, entry), join(scratch, entry), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
}

function runTests(): { failed: boolean; seconds: number; output: string } {
  const t0 = performance.now();
  const r = spawnSync('npx', ['vitest', 'run', ...TESTS], { cwd: scratch, encoding: 'utf8' });
  return {
    failed: r.status !== 0,
    seconds: (performance.now() - t0) / 1000,
    output: `${r.stdout}${r.stderr}`,
  };
}

let unnoticed = 0;
try {
  copyProject();
  const clean = runTests();
  if (clean.failed) {
    console.error(clean.output.slice(-4000));
    throw new Error('the unmodified suite fails; fix that first');
  }
  console.log(`unmodified suite passes (${clean.seconds.toFixed(1)} s)\n`);
  console.log('| rule deleted | suite | time |\n|---|---|---:|');
  for (const m of RULE_MUTATIONS) {
    const path = join(scratch, m.file);
    const original = readFileSync(path, 'utf8');
    const hits = original.split(m.find).length - 1;
    if (hits !== 1)
      throw new Error(`mutation "${m.rule}": expected its code once in ${m.file}, found ${hits} times`);
    writeFileSync(path, original.replace(m.find, m.replace));
    const r = runTests();
    writeFileSync(path, original);
    if (!r.failed) unnoticed++;
    console.log(
      `| ${m.rule} | ${r.failed ? 'fails (good)' : 'PASSES: rule untested'} | ${r.seconds.toFixed(1)} s |`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(
  unnoticed === 0 ? '\nevery rule deletion is caught' : `\n${unnoticed} rule deletion(s) went unnoticed`,
);
process.exitCode = unnoticed === 0 ? 0 : 1;
