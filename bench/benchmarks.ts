/** The six benchmarks of the performance targets and the Xen pipeline's, by name, and the module that measures each (one module may measure two). */
import type { BenchOptions, BenchResult } from './lib/result.ts';

type Runner = (opts: BenchOptions) => Promise<BenchResult[]>;

export const MODULES: Readonly<Record<string, () => Promise<Runner>>> = {
  'tracker-throughput': async () => (await import('./tracker-throughput.ts')).run,
  'map-memory': async () => (await import('./map-memory.ts')).run,
  'checkpoint-io': async () => (await import('./checkpoint-io.ts')).run,
  replay: async () => (await import('./replay.ts')).run,
  scaling: async () => (await import('./scaling.ts')).run,
  'xen-pipeline': async () => (await import('./xen-pipeline.ts')).run,
};

/** Benchmark name -> module name, in the order. */
export const BENCHMARKS: Readonly<Record<string, string>> = {
  'tracker-throughput': 'tracker-throughput',
  'map-memory': 'map-memory',
  'checkpoint-write': 'checkpoint-io',
  restore: 'checkpoint-io',
  replay: 'replay',
  scaling: 'scaling',
  'xen-pipeline': 'xen-pipeline',
};

/** Modules to run for the named benchmarks, each once, in order. */
export function modulesFor(names: readonly string[]): string[] {
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
  }
  return [...new Set(names.map((n) => BENCHMARKS[n]!))];
}
