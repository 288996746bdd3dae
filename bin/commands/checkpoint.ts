/**
 * `leanckpt checkpoint <trace> --out <image>`: replays a trace to one of its checkpoints and keeps that
 * checkpoint's image, with the disks it references exported as raw files and a manifest, so that
 * `leanckpt restore` can restore it from files.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { exportDisks } from '../../backends/file/export-disks.ts';
import { replay, type CheckpointResult } from '../../backends/sim/replay.ts';
import type { CheckpointCliOptions } from '../cli.ts';
import { Op } from '../../core/events/batch.ts';
import { openTrace } from '../../core/trace/reader.ts';
import { EXIT, ExitError } from '../exit-codes.ts';
import { deliveryOf } from '../options.ts';

export interface CheckpointCliResult extends CheckpointResult {
  image: string;
  manifest: string;
}

/** Names of the trace's checkpoints, in order (a first, streaming pass). */
async function checkpointNames(path: string): Promise<string[]> {
  const trace = await openTrace(path);
  const names: string[] = [];
  for await (const b of trace.batches) {
    for (let i = 0; i < b.length; i++) if (b.op[i] === Op.Checkpoint) names.push(b.labels.get(i) ?? '');
  }
  return names;
}

export async function checkpoint(path: string, opts: CheckpointCliOptions): Promise<CheckpointCliResult> {
  if (!existsSync(path)) throw new ExitError(`Cannot read ${path}: no such file`, EXIT.usage);
  const names = await checkpointNames(path);
  if (names.length === 0) throw new ExitError(`${path} has no checkpoint event`, EXIT.usage);
  const target = opts.at === undefined ? names.length - 1 : names.indexOf(opts.at);
  if (target < 0) {
    throw new ExitError(
      `${path} has no checkpoint named "${opts.at}" (it has: ${names.join(', ')})`,
      EXIT.usage,
    );
  }
  const out = resolve(opts.out);
  const disksDir = resolve(opts.disksOut ?? `${out}.disks`);
  const work = mkdtempSync(resolve(dirname(out), '.leanckpt-checkpoint-'));
  let result: CheckpointCliResult | undefined;
  let seen = 0;
  try {
    const trace = await openTrace(path);
    await replay(trace.header, trace.batches, {
      delivery: deliveryOf(opts),
      ...(opts.readsLandAtCompletion === undefined
        ? {}
        : { readsLandAtCompletion: opts.readsLandAtCompletion }),
      policy: opts.policy,
      keepImages: work,
      onCheckpoint: async (record, r) => {
        if (seen++ !== target) return;
        if (!r.verified)
          throw new ExitError(
            `checkpoint ${r.name} failed verification: ${r.failure}`,
            EXIT.verificationFailed,
          );
        const manifest = await exportDisks(record.disks, disksDir);
        renameSync(r.imagePath!, out);
        result = { ...r, image: out, manifest, imagePath: out };
      },
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return result!;
}
