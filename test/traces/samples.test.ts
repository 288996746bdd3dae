/**
 * The hand-written sample traces, one per invalidation rule: each replays with every checkpoint
 * verified byte for byte, and maps exactly the pages the rule allows.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../backends/sim/replay.ts';
import { parseDelivery } from '../../core/checkpoint/delivery.ts';
import { openTrace } from '../../core/trace/reader.ts';

const SAMPLES = resolve(import.meta.dirname, '../../traces/samples');

/** Mapped pages at each checkpoint, in precise delivery. */
const EXPECTED: Record<string, Record<string, number>> = {
  'rule-01-full-page-read': { a: 2, b: 2 },
  'rule-02-write-overwrites-mapping': { end: 2 },
  'rule-03-subpage-write-and-discard': { end: 1 },
  'rule-04-subpage-read': { end: 0 },
  'rule-05-mem-write-and-release': { end: 1 },
  'rule-06-write-during-flight': { end: 1 },
  'rule-07-racing-requests': { end: 2 },
  'rule-08-failed-requests': { end: 0 },
  'rule-09-inflight-at-checkpoint': { during: 0, after: 2 },
  'rule-10-shared-sectors-two-disks': { end: 3 },
};

async function run(name: string, delivery: string) {
  const trace = await openTrace(join(SAMPLES, `${name}.jsonl`));
  return replay(trace.header, trace.batches, { delivery: parseDelivery(delivery), policy: 'p2b' });
}

describe('sample traces', () => {
  it('has one sample per rule, and nothing untested', () => {
    const files = readdirSync(SAMPLES)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.replace(/\.jsonl$/, ''));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: maps what the rule allows, and every checkpoint verifies`, async () => {
      const r = await run(name, 'precise');
      expect(Object.fromEntries(r.checkpoints.map((c) => [c.name, c.mappedPages]))).toEqual(expected);
      for (const c of r.checkpoints) expect(c.verified, c.failure).toBe(true);
    });

    it(`${name}: verifies under epoch delivery, with and without revalidation`, async () => {
      for (const mode of ['epoch:2', 'epoch:2+revalidate']) {
        const r = await run(name, mode);
        for (const c of r.checkpoints) {
          expect(c.verified, c.failure).toBe(true);
          expect(c.mappedPages).toBeLessThanOrEqual(expected[c.name]!);
        }
      }
    });
  }
});

describe('simulated sample traces', () => {
  for (const name of ['pv-linux-kernel-build-64M', 'hvm-windows-desktop-64M']) {
    it(`${name}: replays with every checkpoint verified, in precise and epoch delivery`, async () => {
      for (const mode of ['precise', 'epoch:512+revalidate']) {
        const trace = await openTrace(join(SAMPLES, `${name}.lctrace`));
        const r = await replay(trace.header, trace.batches, {
          delivery: parseDelivery(mode),
          policy: 'p2b+zero',
        });
        expect(r.checkpoints.length).toBeGreaterThanOrEqual(2);
        for (const c of r.checkpoints) {
          expect(c.verified, c.failure).toBe(true);
          expect(c.demotedPages).toBe(0);
          expect(c.mappedPages).toBeGreaterThan(0);
        }
      }
    });
  }
});
