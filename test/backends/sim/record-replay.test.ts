/**
 * simulate -> record -> replay gives the same numbers: a trace carries everything the simulator's run
 * depended on, in both trace formats.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replay, type ReplayResult } from '../../../backends/sim/replay.ts';
import { parseDelivery } from '../../../core/checkpoint/delivery.ts';
import { openTrace } from '../../../core/trace/reader.ts';
import { TraceWriter } from '../../../core/trace/writer.ts';
import {
  GUEST_KINDS,
  simulate,
  WORKLOADS,
  type GuestKindName,
  type WorkloadName,
} from '../../../sim/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const numbers = (r: ReplayResult) =>
  r.checkpoints.map((c) => [
    c.name,
    c.events,
    c.mappedPages,
    c.zeroPages,
    c.dataPages,
    c.imageBytes,
    c.verified,
  ]);

describe('simulate, record, replay', () => {
  it('gives the same numbers from the simulator and from its recorded trace', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(GUEST_KINDS) as GuestKindName[])),
        fc.constantFrom(...(Object.keys(WORKLOADS) as WorkloadName[])),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom('jsonl', 'lctrace'),
        async (guest, workload, seed, ext) => {
          const opts = { guest, workload, memBytes: 32 * 2 ** 20, seed, checkpoints: { every: 40000 } };
          const path = join(dir, `t${n++}.${ext}`);
          const first = simulate(opts);
          const writer = await TraceWriter.create(path, first.header);
          for (const b of first.batches) await writer.write(b);
          await writer.close();

          const delivery = parseDelivery('epoch:64+revalidate');
          const again = simulate(opts);
          const direct = await replay(again.header, again.batches, { delivery, policy: 'p2b+zero' });
          const trace = await openTrace(path);
          const replayed = await replay(trace.header, trace.batches, { delivery, policy: 'p2b+zero' });
          expect(numbers(replayed)).toEqual(numbers(direct));
          expect(direct.checkpoints.every((c) => c.verified)).toBe(true);
        },
      ),
      { numRuns: 4 },
    );
  });
});
