/** `leanckpt experiment paper` as a user runs it: --quick end to end, usage errors, --help. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leanckpt as run } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-experiment-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leanckpt = (...args: string[]) => run(args);

describe('leanckpt experiment paper', () => {
  it('--quick runs, writes every output, and prints JSON averages', async () => {
    const out = join(dir, 'quick');
    const r = await leanckpt(
      'experiment',
      'paper',
      '--quick',
      '--guests',
      'pvhvm-linux',
      '--workloads',
      'postmark',
      '--cost-profile',
      'disk2011',
      '--out',
      out,
      '--json',
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.cost.writeBandwidth).toBe(100e6);
    expect(j.averages.map((a: { guest: string }) => a.guest)).toEqual(['pvhvm-linux']);
    expect(j.summaries[0].reduction.p2b.mean).toBeGreaterThan(0);
    for (const f of ['results.json', 'results.csv', 'report.md', 'reduction.svg'])
      expect(existsSync(join(out, f))).toBe(true);
    // A saved run is re-costed without simulating again.
    const again = await leanckpt(
      'experiment',
      'paper',
      '--from',
      join(out, 'results.json'),
      '--write-bw',
      '50',
      '--out',
      join(dir, 're'),
      '--json',
    );
    expect(again.code).toBe(0);
    const k = JSON.parse(again.out);
    expect(k.cost.writeBandwidth).toBe(50e6);
    expect(k.summaries[0].reduction).toEqual(j.summaries[0].reduction);
    expect(k.summaries[0].ckptSeconds.baseline.mean).toBeGreaterThan(
      j.summaries[0].ckptSeconds.baseline.mean,
    );
  });

  it('rejects bad options with exit code 2 and a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['--guests', 'pv-bsd'], /unknown guest "pv-bsd"/],
      [['--seeds', '0'], /--seeds must be/],
      [['--write-bw', '-3'], /--write-bw must be a positive number/],
      [['--from', join(dir, 'missing.json')], /cannot read/],
    ];
    const results = await Promise.all(
      cases.map(([args]) => leanckpt('experiment', 'paper', ...args, '--out', join(dir, 'bad'))),
    );
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('--help names every option with examples', async () => {
    const r = await leanckpt('experiment', 'paper', '--help');
    expect(r.code).toBe(0);
    for (const o of [
      '--quick',
      '--seeds',
      '--mem',
      '--guests',
      '--workloads',
      '--jobs',
      '--out',
      '--json',
      '--cost-profile',
    ])
      expect(r.out).toContain(o);
    expect(r.out).toContain('Examples:');
  });
});
