/** The trace-facing commands as a user runs them: replay, checkpoint, restore, inspect, trace. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'leanckpt-cli-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sample = (name: string) => join(root, 'traces/samples', `${name}.jsonl`);
const bad = (name: string) => join(root, 'test/fixtures/bad-traces', `${name}.jsonl`);

function leanckpt(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bin/leanckpt.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('leanckpt replay', () => {
  it('replays a sample, verifies it, and reports the fields experiments need as JSON', () => {
    const r = leanckpt('replay', sample('rule-09-inflight-at-checkpoint'), '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(
      result.checkpoints.map((c: { name: string; mappedPages: number }) => [c.name, c.mappedPages]),
    ).toEqual([
      ['during', 0],
      ['after', 2],
    ]);
    for (const c of result.checkpoints) {
      for (const field of [
        'name',
        'pages',
        'mappedPages',
        'zeroPages',
        'dataPages',
        'imageBytes',
        'baselineBytes',
        'verified',
      ]) {
        expect(c).toHaveProperty(field);
      }
      expect(c.verified).toBe(true);
    }
  });

  it('prints a table by default', () => {
    const r = leanckpt(
      'replay',
      sample('rule-01-full-page-read'),
      '--delivery',
      'epoch',
      '--epoch',
      '2',
      '--revalidate',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| a \|/);
    expect(r.out).toMatch(/epoch:2\+revalidate delivery/);
  });

  it('--revalidate without --delivery epoch revalidates the dirty records a recorded trace carries', () => {
    const trace = join(root, 'test/fixtures/xen/pv-life-run6.lctrace');
    const r = leanckpt('replay', trace, '--revalidate', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.delivery).toBe('precise+revalidate');
    expect(result.checkpoints.map((c: { mappedPages: number }) => c.mappedPages)).toEqual([28_086]);
  });

  const cases: [string, RegExp][] = [
    ['truncated', /line 3/],
    ['unknown-op', /line 2: .*io_frobnicate/],
    ['pfn-out-of-range', /line 3: .*16/],
    ['overlapping-segments', /line 2: .*overlap/],
    ['missing-header', /line 1: .*header/],
  ];
  for (const [name, message] of cases) {
    it(`refuses a trace with ${name.replace(/-/g, ' ')}: exit 2, line number, no stack trace`, () => {
      for (const cmd of [['replay'], ['trace', 'validate']]) {
        const r = leanckpt(...cmd, bad(name));
        expect(r.code, `${cmd.join(' ')} ${name}: ${r.err}`).toBe(2);
        expect(r.err).toMatch(message);
        expect(r.err).not.toMatch(/\n\s+at /);
      }
    });
  }

  it('refuses a missing trace file with exit 2', () => {
    const r = leanckpt('replay', join(dir, 'nope.jsonl'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no such file/);
  });
});

describe('leanckpt checkpoint, restore and inspect', () => {
  it('keeps a checkpoint with its disks, restores it from the files, and lists its map', () => {
    const image = join(dir, 'a.lckpt');
    const c = leanckpt(
      'checkpoint',
      sample('rule-01-full-page-read'),
      '--at',
      'a',
      '--out',
      image,
      '--policy',
      'p2b',
      '--json',
    );
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    const written = JSON.parse(c.out);
    expect(written.mappedPages).toBe(2);
    expect(existsSync(written.manifest)).toBe(true);

    const memory = join(dir, 'memory.raw');
    const r = leanckpt('restore', image, '--disks', written.manifest, '--out', memory, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ pages: 16, pagesMapped: 2 });
    expect(readFileSync(memory).length).toBe(16 * 4096);

    const list = JSON.parse(leanckpt('inspect', image, '--list', '--json').out);
    expect(list.mapped).toEqual([
      [0, 0, 0],
      [1, 0, 8],
    ]);

    // The disk changes after the checkpoint: the restore must refuse, naming the page and sector.
    const disk0 = join(`${image}.disks`, 'disk-0.img');
    const bytes = readFileSync(disk0);
    bytes[8 * 512 + 5]! ^= 0xff;
    writeFileSync(disk0, bytes);
    const refused = leanckpt('restore', image, '--disks', written.manifest);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/page 1 \(disk 0, sector 8\)/);
    expect(refused.err).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown checkpoint name with the names it has', () => {
    const r = leanckpt(
      'checkpoint',
      sample('rule-01-full-page-read'),
      '--at',
      'zzz',
      '--out',
      join(dir, 'z.lckpt'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no checkpoint named "zzz" \(it has: a, b\)/);
  });
});

describe('leanckpt trace', () => {
  it('converts to binary and back, and both replay to the same numbers', () => {
    const bin = join(dir, 'r7.lctrace');
    const back = join(dir, 'r7.jsonl');
    expect(leanckpt('trace', 'convert', sample('rule-07-racing-requests'), bin).code).toBe(0);
    expect(leanckpt('trace', 'convert', bin, back).code).toBe(0);
    const numbers = (p: string) =>
      JSON.parse(leanckpt('replay', p, '--json').out).checkpoints.map(
        (c: { mappedPages: number; imageBytes: number }) => [c.mappedPages, c.imageBytes],
      );
    expect(numbers(bin)).toEqual(numbers(sample('rule-07-racing-requests')));
    expect(numbers(back)).toEqual(numbers(bin));
    const stats = JSON.parse(leanckpt('trace', 'stats', bin, '--json').out);
    expect(stats.ops.checkpoint).toBe(1);
  });
});
