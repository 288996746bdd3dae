/** The trace-facing commands as a user runs them: replay, checkpoint, restore, inspect, trace. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leanckpt as run } from '../support/cli.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'leanckpt-cli-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sample = (name: string) => join(root, 'traces/samples', `${name}.jsonl`);
const bad = (name: string) => join(root, 'test/fixtures/bad-traces', `${name}.jsonl`);

const leanckpt = (...args: string[]) => run(args);

describe('leanckpt replay', () => {
  it('replays a sample, verifies it, and reports the fields experiments need as JSON', async () => {
    const r = await leanckpt('replay', sample('rule-09-inflight-at-checkpoint'), '--json');
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

  it('prints a table by default', async () => {
    const r = await leanckpt(
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

  it('--revalidate without --delivery epoch revalidates the dirty records a recorded trace carries', async () => {
    const trace = join(root, 'test/fixtures/xen/pv-life-run6.lctrace');
    const r = await leanckpt('replay', trace, '--revalidate', '--json');
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
    it(`refuses a trace with ${name.replace(/-/g, ' ')}: exit 2, line number, no stack trace`, async () => {
      const cmds = [['replay'], ['trace', 'validate']];
      const results = await Promise.all(cmds.map((cmd) => leanckpt(...cmd, bad(name))));
      for (const [i, cmd] of cmds.entries()) {
        const r = results[i]!;
        expect(r.code, `${cmd.join(' ')} ${name}: ${r.err}`).toBe(2);
        expect(r.err).toMatch(message);
        expect(r.err).not.toMatch(/\n\s+at /);
      }
    });
  }

  it('refuses a missing trace file with exit 2', async () => {
    const r = await leanckpt('replay', join(dir, 'nope.jsonl'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no such file/);
  });
});

describe('leanckpt checkpoint, restore and inspect', () => {
  it('keeps a checkpoint with its disks, restores it from the files, and lists its map', async () => {
    const image = join(dir, 'a.lckpt');
    const c = await leanckpt(
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
    const r = await leanckpt('restore', image, '--disks', written.manifest, '--out', memory, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ pages: 16, pagesMapped: 2 });
    expect(readFileSync(memory).length).toBe(16 * 4096);

    const list = JSON.parse((await leanckpt('inspect', image, '--list', '--json')).out);
    expect(list.mapped).toEqual([
      [0, 0, 0],
      [1, 0, 8],
    ]);

    // The disk changes after the checkpoint: the restore must refuse, naming the page and sector.
    const disk0 = join(`${image}.disks`, 'disk-0.img');
    const bytes = readFileSync(disk0);
    bytes[8 * 512 + 5]! ^= 0xff;
    writeFileSync(disk0, bytes);
    const refused = await leanckpt('restore', image, '--disks', written.manifest);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/page 1 \(disk 0, sector 8\)/);
    expect(refused.err).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown checkpoint name with the names it has', async () => {
    const r = await leanckpt(
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
  it('converts to binary and back, and both replay to the same numbers', async () => {
    const bin = join(dir, 'r7.lctrace');
    const back = join(dir, 'r7.jsonl');
    expect((await leanckpt('trace', 'convert', sample('rule-07-racing-requests'), bin)).code).toBe(0);
    expect((await leanckpt('trace', 'convert', bin, back)).code).toBe(0);
    const numbers = async (p: string) =>
      JSON.parse((await leanckpt('replay', p, '--json')).out).checkpoints.map(
        (c: { mappedPages: number; imageBytes: number }) => [c.mappedPages, c.imageBytes],
      );
    const [fromBin, fromSample, fromBack] = await Promise.all(
      [bin, sample('rule-07-racing-requests'), back].map(numbers),
    );
    expect(fromBin).toEqual(fromSample);
    expect(fromBack).toEqual(fromBin);
    const stats = JSON.parse((await leanckpt('trace', 'stats', bin, '--json')).out);
    expect(stats.ops.checkpoint).toBe(1);
  });
});
