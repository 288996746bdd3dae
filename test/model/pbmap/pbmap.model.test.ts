/**
 * Model-based test of the whole core: random interleavings of submits, data transfers, completions (ok
 * and failed), memory writes, releases, discards and checkpoints, in every delivery mode.
 * To replay a failure, pass the printed { seed, path } to fc.assert and { replayPath } to fc.commands.
 */
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { loadHasher, type Hasher64 } from '../../../core/hash.ts';
import { commandArbitraries } from './commands.ts';
import { makeSystem, type Delivery } from './system.ts';

let hasher: Hasher64;
beforeAll(async () => {
  hasher = await loadHasher();
});

const RUNS: Record<Delivery, number> = { precise: 1000, epoch: 1000, 'epoch+revalidate': 1000 };

describe('page-block map against the naive model and the bytes', () => {
  for (const delivery of Object.keys(RUNS) as Delivery[]) {
    it(`stays exact and safe under ${delivery} delivery`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.commands(commandArbitraries, { maxCommands: 60 }),
          fc.integer({ min: 1, max: 8 }),
          async (cmds, epoch) => {
            const { model, real } = makeSystem(delivery, hasher, epoch);
            try {
              await fc.asyncModelRun(() => ({ model, real }), cmds);
            } finally {
              real.dispose();
            }
          },
        ),
        { numRuns: RUNS[delivery] },
      );
    });
  }
});
