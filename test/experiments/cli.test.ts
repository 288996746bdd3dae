/** `leanckpt experiment paper` as a user runs it: --quick end to end, usage errors, --help. */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'leanckpt-experiment-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function leanckpt(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bin/leanckpt.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Asynchronous, so a long run does not block the test worker's event loop. */
function leanckptAsync(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'bin/leanckpt.ts'), ...args],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 },
      (err, out, errText) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out, err: errText }),
    );
  });
}

describe('leanckpt experiment paper', () => {
  it('--quick runs, writes every output, and prints JSON averages', async () => {
    const out = join(dir, 'quick');
    const r = await leanckptAsync(
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
    const again = await leanckptAsync(
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

  it('rejects bad options with exit code 2 and a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['--guests', 'pv-bsd'], /unknown guest "pv-bsd"/],
      [['--seeds', '0'], /--seeds must be/],
      [['--write-bw', '-3'], /--write-bw must be a positive number/],
      [['--from', join(dir, 'missing.json')], /cannot read/],
    ];
    for (const [args, message] of cases) {
      const r = leanckpt('experiment', 'paper', ...args, '--out', join(dir, 'bad'));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('--help names every option with examples', () => {
    const r = leanckpt('experiment', 'paper', '--help');
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
