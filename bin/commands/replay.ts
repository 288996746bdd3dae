/**
 * `leanckpt replay <trace>`: a recorded or simulated trace through the replay world and the tracker,
 * an image at every checkpoint, each restored and compared with the guest byte for byte.
 */
import { existsSync, statSync } from 'node:fs';
import { replay, type ReplayResult } from '../../backends/sim/replay.ts';
import type { ReplayCliOptions } from '../cli.ts';
import { openTrace } from '../../core/trace/reader.ts';
import { EXIT, ExitError } from '../exit-codes.ts';
import { deliveryOf } from '../options.ts';
import { progressBar } from '../progress.ts';

export async function replayTrace(path: string, opts: ReplayCliOptions): Promise<ReplayResult> {
  if (!existsSync(path)) throw new ExitError(`Cannot replay ${path}: no such file`, EXIT.usage);
  const trace = await openTrace(path);
  const size = statSync(path).size;
  const bar = progressBar('replay', size, !opts.json);
  try {
    return await replay(trace.header, trace.batches, {
      delivery: deliveryOf(opts),
      ...(opts.readsLandAtCompletion === undefined
        ? {}
        : { readsLandAtCompletion: opts.readsLandAtCompletion }),
      policy: opts.policy,
      ...(opts.keepImages ? { keepImages: opts.keepImages } : {}),
      onProgress: (p) => bar.update(trace.totals().bytes, `${p.events} events, ${p.checkpoints} checkpoints`),
    });
  } finally {
    bar.stop();
    await trace.close();
  }
}
