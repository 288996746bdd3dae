import { simulate } from '../sim/index.ts';
import { traceGeometry } from '../core/trace/header.ts';
import { bareLoop, pipeline } from './tracker-throughput.ts';
const s = simulate({
  guest: 'pv-linux',
  workload: 'file-copy',
  memBytes: 4 * 2 ** 30,
  seed: 1,
  events: Number(process.argv[2] ?? 2e6),
});
const b = [...s.batches];
const g = traceGeometry(s.header);
const n = b.reduce((a, x) => a + x.length, 0);
for (let r = 0; r < 2; r++) {
  let t0 = performance.now();
  bareLoop(b, g);
  const bare = performance.now() - t0;
  t0 = performance.now();
  await pipeline(b, g);
  const p = performance.now() - t0;
  console.log(
    'bare',
    (n / bare / 1e3).toFixed(2),
    'M ev/s pipe',
    (n / p / 1e3).toFixed(2),
    'ratio',
    (bare / p).toFixed(2),
  );
}
