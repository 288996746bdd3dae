/** The leanckpt command as a user runs it: output, exit codes, and no stack trace for user mistakes. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leanckpt as run } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leanckpt = (...args: string[]) => run(args);

const SMALL = ['--pages', '2048', '--disk-sectors', '32768', '--ops', '600'];

describe('leanckpt CLI', () => {
  it('explains itself with --help', async () => {
    const r = await leanckpt('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/demo/);
    expect(r.out).toMatch(/Exit codes/);
    expect((await leanckpt('demo', '--help')).out).toMatch(/--revalidate/);
  });

  it('prints its version, the one package.json gives', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await leanckpt(flag);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(pkg.version);
    }
  });

  it('runs the demo, verifies every image, and prints a table', async () => {
    const r = await leanckpt('demo', ...SMALL);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| demo-1 \| p2b \|/);
    expect(r.out).toMatch(/yes, byte for byte/);
    expect(r.out).not.toMatch(/\| NO \|/);
  });

  it('gives the same numbers for the same seed, as JSON, in every delivery mode', async () => {
    for (const delivery of [
      ['precise'],
      ['epoch', '--epoch', '64'],
      ['epoch', '--epoch', '64', '--revalidate'],
    ]) {
      const runs = await Promise.all(
        [0, 1].map(() => leanckpt('demo', ...SMALL, '--json', '--delivery', ...delivery)),
      );
      const [a, b] = runs.map((r) => JSON.parse(r.out));
      const counts = (x: {
        checkpoints: { images: { name: string; bytes: number; pagesMapped: number }[] }[];
      }) => x.checkpoints.map((c) => c.images.map((i) => [i.name, i.bytes, i.pagesMapped]));
      expect(counts(a)).toEqual(counts(b));
      expect(
        a.checkpoints.every((c: { images: { verified: boolean }[] }) => c.images.every((i) => i.verified)),
      ).toBe(true);
    }
  });

  it('keeps images with --out, and inspect validates them', async () => {
    const out = join(dir, 'imgs');
    expect((await leanckpt('demo', ...SMALL, '--checkpoints', '1', '--out', out)).code).toBe(0);
    const images = readdirSync(out).sort();
    expect(images).toEqual(['demo-1.baseline.lckpt', 'demo-1.p2b+zero.lckpt', 'demo-1.p2b.lckpt']);
    const r = await leanckpt('inspect', join(out, 'demo-1.p2b.lckpt'), '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.pageCount).toBe(2048);
    expect(summary.pagesMapped).toBeGreaterThan(0);

    const bad = join(dir, 'corrupt.lckpt');
    const bytes = readFileSync(join(out, 'demo-1.p2b.lckpt'));
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(bad, bytes);
    const c = await leanckpt('inspect', bad);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/^leanckpt: /);
    expect(c.err).not.toMatch(/\n\s+at /);
  });

  it('refuses bad input with exit 2 and a clear message, never a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['demo', '--pages', 'lots'], /--pages must be a whole number >= 1, got "lots"/],
      [['demo', '--pages', '0'], /--pages must be a whole number >= 1/],
      [['demo', '--delivery', 'sometimes'], /Allowed choices are precise, epoch/],
      [['demo', '--disk-sectors', '100'], /--disk-sectors must be at least 4096/],
      [['inspect', join(dir, 'missing.lckpt')], /no such file/],
      [['frobnicate'], /unknown command/],
      [['simulate', '--guest', 'vax'], /unknown guest kind "vax"; choose one of: pv-linux/],
      [['simulate', '--workload', 'chess'], /unknown workload "chess"/],
      [['simulate', '--mem', '3'], /--mem must be a size like 1G/],
      [['simulate', '--mem', '17G'], /--mem must be at most 16G/],
      [['simulate', '--epoch', '0'], /--epoch must be a whole number >= 1/],
      [['restore', 'x.lckpt'], /required option '--disks <manifest>'/],
    ];
    const results = await Promise.all(cases.map(([args]) => leanckpt(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
