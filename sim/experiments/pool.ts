/**
 * Runs cases on `jobs` worker threads (one case per worker at a time, the next handed out as one
 * finishes), or in this thread when jobs is 1. Results come back in the order of the specs, so the
 * output does not depend on which worker was faster.
 */
import { Worker } from 'node:worker_threads';
import { runCase, type CaseProgress, type CaseResult, type CaseSpec } from './case.ts';

export interface ToWorker {
  readonly id: number;
  readonly spec: CaseSpec;
}

export type ToPool =
  | { readonly type: 'progress'; readonly id: number; readonly progress: CaseProgress }
  | { readonly type: 'done'; readonly id: number; readonly result: CaseResult }
  | { readonly type: 'failed'; readonly id: number; readonly usage: boolean; readonly message: string };

export type PoolProgress = (index: number, spec: CaseSpec, p: CaseProgress | 'done') => void;

export async function runCases(
  specs: readonly CaseSpec[],
  jobs: number,
  onProgress: PoolProgress = () => {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array<CaseResult>(specs.length);
  if (jobs <= 1 || specs.length <= 1) {
    for (const [i, spec] of specs.entries()) {
      results[i] = await runCase(spec, (p) => onProgress(i, spec, p));
      onProgress(i, spec, 'done');
    }
    return results;
  }
  let next = 0;
  const workers = Array.from({ length: Math.min(jobs, specs.length) }, () => startWorker());
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < specs.length) {
          const id = next++;
          results[id] = await w.run(id, specs[id]!, (p) => onProgress(id, specs[id]!, p));
          onProgress(id, specs[id]!, 'done');
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  return results;
}

interface PoolWorker {
  run(id: number, spec: CaseSpec, onProgress: (p: CaseProgress) => void): Promise<CaseResult>;
  stop(): Promise<void>;
}

function startWorker(): PoolWorker {
  const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url));
  return {
    run: (id, spec, onProgress) =>
      new Promise<CaseResult>((resolve, reject) => {
        const onMessage = (m: ToPool): void => {
          if (m.id !== id) return;
          if (m.type === 'progress') return onProgress(m.progress);
          cleanup();
          if (m.type === 'done') resolve(m.result);
          else
            reject(
              new (m.usage ? RangeError : Error)(
                `case ${spec.guest}/${spec.workload} seed ${spec.seed} failed: ${m.message}`,
              ),
            );
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(new Error(`experiment worker exited with code ${code}`));
        };
        const cleanup = (): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        worker.postMessage({ id, spec } satisfies ToWorker);
      }),
    stop: async () => {
      await worker.terminate();
    },
  };
}
