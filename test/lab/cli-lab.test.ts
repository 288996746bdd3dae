/** `leanckpt lab` as a user meets it without QEMU: help, bad usage, missing prerequisites, exit codes. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabError } from '../../backends/xen/lab/errors.ts';
import { failureDetails, labCpus, qemuArgs, scenarios, type RunReport } from '../../backends/xen/lab/run.ts';
import { exitErrorOf, runFailure } from '../../bin/commands/lab.ts';
import { EXIT, ExitError } from '../../bin/exit-codes.ts';
import { leanckpt as run } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-lab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leanckpt = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  run(args, { env: { LEANCKPT_LAB_DIR: join(dir, 'lab'), ...env } });

describe('leanckpt lab', () => {
  it('documents both commands with examples', async () => {
    for (const cmd of ['build', 'run']) {
      const r = await leanckpt({}, 'lab', cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain('Examples:');
      expect(r.out).toContain('--json');
    }
  });

  it('rejects an unknown scenario and a malformed setting with exit 2, listing the scenarios', async () => {
    const r = await leanckpt({}, 'lab', 'run', 'no-such-scenario');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/unknown scenario 'no-such-scenario'; scenarios: .*baseline/);
    expect(r.err).not.toMatch(/\bat .*\.ts:\d+/);
    const s = await leanckpt({}, 'lab', 'run', 'baseline', '--set', 'fs=1k;reboot');
    expect(s.code).toBe(EXIT.usage);
    expect(s.err).toContain("bad scenario setting 'fs=1k;reboot'");
  });

  it('says what to install when qemu and the build tools are missing (exit 2)', async () => {
    const empty = join(dir, 'empty-path');
    const b = await leanckpt({ PATH: empty }, 'lab', 'build');
    expect(b.code).toBe(EXIT.usage);
    expect(b.err).toMatch(/lab build needs .*debootstrap.*qemu-system-x86_64/);
    expect(b.err).toContain('apt-get install --no-install-recommends');
    const r = await leanckpt({ PATH: empty }, 'lab', 'run', 'baseline');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/lab run needs qemu-system-x86_64, not found.*\n.*qemu-system-x86/);
  });

  it('asks for a build before a run when no lab is built (exit 2)', async () => {
    // A fake qemu on PATH gets past the tool check to the lab check; it is never started.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'qemu-system-x86_64'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const r = await leanckpt({ PATH: `${bin}:${process.env.PATH}` }, 'lab', 'run', 'baseline');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/no lab built at .*: run `leanckpt lab build` first/);
  });
});

describe('exit codes', () => {
  it('maps host problems and bad usage to 2 and failed steps to 1', () => {
    const code = (kind: LabError['kind']) => (exitErrorOf(new LabError(kind, 'x')) as ExitError).code;
    expect(code('prerequisite')).toBe(EXIT.usage);
    expect(code('usage')).toBe(EXIT.usage);
    expect(code('failed')).toBe(EXIT.verificationFailed);
    const other = new Error('bug');
    expect(exitErrorOf(other)).toBe(other);
  });

  it('turns a failed run into exit 1 with its reasons and the tails of every log', () => {
    const report: RunReport = {
      scenario: 'baseline',
      ok: false,
      timedOut: true,
      wallSeconds: 1800,
      steps: [],
      results: {},
      checks: [],
      integrity: [],
      log: [],
      retried: [],
      failures: ['timed out after 1800 s', 'dom0 never started the scenario'],
      runDir: join(dir, 'missing-run'),
      recipeHash: '0',
      cpus: 1,
    };
    const err = runFailure(report);
    expect(err.code).toBe(EXIT.verificationFailed);
    expect(err.message).toContain('scenario baseline failed (timed out):');
    expect(err.message).toContain('  - dom0 never started the scenario');
    expect(failureDetails(report)).toMatch(/Xen\/dom0 serial log .*\n\(none\)/);
  });
});

describe('qemuArgs', () => {
  it('boots Xen under TCG with the CPU flags it needs and shares the tree read-only', () => {
    const a = qemuArgs('/lab', '/lab/runs/r1', '/src').join(' ');
    expect(a).toContain('-cpu max,-smap,-smep,-xsave');
    expect(a).toContain('-accel tcg -smp 1');
    expect(a).toContain('-kernel /lab/dom0-image/xen.elf');
    expect(a).toContain('-snapshot');
    expect(a).toContain('local,path=/src,mount_tag=lckproject,security_model=none,id=lckproject,readonly=on');
    expect(a).toContain('local,path=/lab/runs/r1,mount_tag=lckresults,security_model=none,id=lckresults ');
    expect(scenarios()).toContain('baseline');
  });

  it('gives two CPUs multi-threaded TCG when asked, and refuses a bad count by name', () => {
    const a = qemuArgs('/lab', '/lab/runs/r1', '/src', labCpus({ LEANCKPT_LAB_CPUS: '2' })).join(' ');
    expect(a).toContain('-accel tcg,thread=multi -smp 2');
    expect(labCpus({})).toBe(1);
    expect(() => labCpus({ LEANCKPT_LAB_CPUS: 'two' })).toThrow(
      'LEANCKPT_LAB_CPUS must be a whole number from 1 to 8, got "two"',
    );
  });
});
