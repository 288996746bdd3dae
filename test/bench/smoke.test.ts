/**
 * Every benchmark at a tiny size, in this process: they run, measure what they say (finite numbers,
 * a baseline where the table shows one, verified restores and replays) and render into the table.
 * The full-size runs are `npm run bench`, not part of the suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCHMARKS, MODULES, modulesFor } from '../../bench/benchmarks.ts';
import type { BenchResult } from '../../bench/lib/result.ts';
import { markdownTable } from '../../bench/lib/table.ts';

const scratch = mkdtempSync(join(tmpdir(), 'leanckpt-bench-smoke-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const results = new Map<string, BenchResult>();

async function runTiny(module: string): Promise<BenchResult[]> {
  const run = await MODULES[module]!();
  const got = await run({ scale: 'tiny', scratch, log: () => {} });
  for (const r of got) results.set(r.name, r);
  return got;
}

function expectWellFormed(r: BenchResult): void {
  expect(r.rows.length).toBeGreaterThan(0);
  for (const row of r.rows) {
    expect(Number.isFinite(row.measured)).toBe(true);
    if (row.baseline !== null) {
      expect(row.baseline).toBeGreaterThan(0);
      expect(Number.isFinite(row.ratio)).toBe(true);
    }
    if (row.met !== null) expect(typeof row.met).toBe('boolean');
  }
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

describe('benchmarks at a tiny size', () => {
  it('tracker-throughput: the pipeline and the bare loop both map pages', async () => {
    const [r] = await runTiny('tracker-throughput');
    expectWellFormed(r!);
    expect(r!.details.mappedBare).toBeGreaterThan(0);
    expect(r!.details.mappedPipeline).toBeGreaterThan(0);
  });

  it('map-memory: the map of a fully mapped guest fits its budget up to fixed overhead', async () => {
    const [r] = await runTiny('map-memory');
    expectWellFormed(r!);
    const row = r!.rows[0]!;
    // The arrays are really allocated: the process grew by at least the forward map per page.
    expect(row.measured).toBeGreaterThanOrEqual(16);
    expect(r!.details.forwardBytesPerPage).toBe(16);
  });

  it('checkpoint-write and restore: real files, both restores equal the guest', async () => {
    const got = await runTiny('checkpoint-io');
    expect(got.map((r) => r.name)).toEqual(['checkpoint-write', 'restore']);
    for (const r of got) expectWellFormed(r);
    const w = got[0]!.details;
    expect(w.pagesMapped).toBeGreaterThan(0);
    expect(w.pagesDemoted).toBe(0);
    expect(w.p2bBytes).toBeLessThan(w.baselineBytes as number);
    expect(got[1]!.details.verified).toBe(true);
  });

  it('replay: a recorded trace replays with every checkpoint verified', async () => {
    const [r] = await runTiny('replay');
    expectWellFormed(r!);
    expect(r!.details.events).toBeGreaterThanOrEqual(10_000);
  });

  it('scaling: three sizes and a slope', async () => {
    const [r] = await runTiny('scaling');
    expectWellFormed(r!);
    expect((r!.details.points as unknown[]).length).toBe(3);
  });

  it('xen-pipeline: a generated xl stream saved and rebuilt to its exact length', async () => {
    const [r] = await runTiny('xen-pipeline');
    expectWellFormed(r!);
    for (const layout of ['scattered', 'runs']) {
      const d = r!.details[layout] as { pagesMapped: number; reduction: number; restoreDiskReads: number };
      expect(d.pagesMapped).toBeGreaterThan(0);
      expect(d.reduction).toBeGreaterThan(0.4);
    }
    const reads = (layout: string) => (r!.details[layout] as { restoreDiskReads: number }).restoreDiskReads;
    // Runs of pages in disk order are read together; scattered pages one by one.
    expect(reads('runs')).toBeLessThan(reads('scattered') / 4);
  });

  it('the table has a line per row of every benchmark, and unknown names are refused', () => {
    const table = markdownTable([...results.values()]);
    for (const name of Object.keys(BENCHMARKS)) expect(table).toContain(`| ${name} |`);
    expect(modulesFor(['restore', 'checkpoint-write'])).toEqual(['checkpoint-io']);
    expect(() => modulesFor(['nope'])).toThrow(/unknown benchmark nope/);
  });
});
