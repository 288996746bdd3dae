/** The runner's table: one line per row of every benchmark, in Markdown so the README can quote it. */
import type { BenchResult } from './result.ts';

/** 1234567 with unit "B/s" -> "1.23 MB/s"; plain numbers keep a few significant digits. */
function num(x: number | null, unit = ''): string {
  if (x === null || !Number.isFinite(x)) return '-';
  const abs = Math.abs(x);
  const [v, prefix] =
    abs >= 1e9 ? [x / 1e9, 'G'] : abs >= 1e6 ? [x / 1e6, 'M'] : abs >= 1e4 ? [x / 1e3, 'k'] : [x, ''];
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 3;
  const text = v.toFixed(digits);
  if (!unit) return prefix ? `${text} ${prefix}` : text;
  return unit.startsWith('B') ? `${text} ${prefix}${unit}` : `${text} ${prefix}${prefix ? ' ' : ''}${unit}`;
}

export function markdownTable(results: readonly BenchResult[]): string {
  const lines = [
    '| benchmark | measure | measured | baseline | ratio | target | met? |',
    '|---|---|---:|---:|---:|---|:-:|',
  ];
  for (const r of results) {
    for (const w of r.rows) {
      const base = w.baseline === null ? '-' : `${num(w.baseline, w.unit)} (${w.baselineName})`;
      const met = w.met === null ? '-' : w.met ? 'yes' : '**no**';
      lines.push(
        `| ${r.name} | ${w.measure} | ${num(w.measured, w.unit)} | ${base} | ${w.ratio === null ? '-' : `${num(w.ratio)}x`} | ${w.target} | ${met} |`,
      );
    }
  }
  return lines.join('\n');
}
