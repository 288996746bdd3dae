/** A worker thread running experiment cases sent by the pool (pool.ts), one at a time. */
import { parentPort } from 'node:worker_threads';
import { runCase } from './case.ts';
import type { ToPool, ToWorker } from './pool.ts';

const port = parentPort;
if (!port) throw new Error('worker.ts runs in a worker thread');

port.on('message', (msg: ToWorker) => {
  const send = (m: ToPool): void => port.postMessage(m);
  runCase(msg.spec, (p) => send({ type: 'progress', id: msg.id, progress: p })).then(
    (result) => send({ type: 'done', id: msg.id, result }),
    (err: unknown) =>
      send({
        type: 'failed',
        id: msg.id,
        // A RangeError is a bad option (a disk too small for the workload), not a bug: keep its kind.
        usage: err instanceof RangeError,
        message:
          err instanceof RangeError
            ? err.message
            : err instanceof Error
              ? (err.stack ?? err.message)
              : String(err),
      }),
  );
});
