/**
 * SVG charts of a paper run, specified in Vega-Lite and rendered by Vega in Node (no browser, no
 * native canvas: text widths are estimated, which is all an SVG needs).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { CaseResult } from './case.ts';
import { DELIVERIES, type CaseSummary } from './summary.ts';

const MiB = 2 ** 20;
const GUEST_ORDER = ['pv-linux', 'pvhvm-linux', 'hvm-linux', 'hvm-windows'];

/** Vega is loaded on first use: several MB that only chart rendering needs, not every CLI start. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white' } as const;

/** Stored-data reduction per workload, a bar per guest kind, one panel per scheme. */
export function reductionChart(summaries: readonly CaseSummary[]): TopLevelSpec {
  const values = summaries.flatMap((s) =>
    (['p2b', 'p2b+zero', 'oracle+zero'] as const).map((scheme) => ({
      guest: s.guest,
      workload: s.workload,
      scheme,
      reduction: s.reduction[scheme].mean,
    })),
  );
  return {
    ...base,
    title: 'Stored data: reduction vs baseline (mean over checkpoints)',
    data: { values },
    facet: { column: { field: 'scheme', title: null, sort: ['p2b', 'p2b+zero', 'oracle+zero'] } },
    spec: {
      width: 340,
      height: 200,
      mark: 'bar',
      encoding: {
        x: { field: 'workload', type: 'nominal', title: null },
        xOffset: { field: 'guest', sort: GUEST_ORDER },
        y: { field: 'reduction', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'guest', type: 'nominal', sort: GUEST_ORDER, title: 'guest kind' },
        tooltip: [{ field: 'reduction', format: '.1%' }],
      },
    },
  };
}

/** Modeled checkpoint time, stacked by step, for baseline, p2b and p2b+zero (mean over workloads). */
export function timeChart(summaries: readonly CaseSummary[], profile: string): TopLevelSpec {
  const steps = ['fixed', 'copy', 'hash', 'zeroScan', 'write'] as const;
  const guests = [...new Set(summaries.map((s) => s.guest))];
  // Averaged here, so the chart stacks plain values (stacking means would be ill-defined).
  const values = guests.flatMap((guest) => {
    const mine = summaries.filter((s) => s.guest === guest);
    return (['baseline', 'p2b', 'p2b+zero'] as const).flatMap((scheme) =>
      steps.map((step) => ({
        guest,
        scheme,
        step,
        seconds: mine.reduce((a, s) => a + s.breakdown[scheme][step], 0) / mine.length,
      })),
    );
  });
  return {
    ...base,
    title: `Modeled checkpoint time by step (${profile}), mean over workloads`,
    data: { values: values.map((v) => ({ ...v, order: steps.indexOf(v.step) })) },
    facet: { column: { field: 'guest', sort: GUEST_ORDER, title: null } },
    spec: {
      width: 130,
      height: 240,
      mark: 'bar',
      encoding: {
        x: { field: 'scheme', type: 'nominal', sort: ['baseline', 'p2b', 'p2b+zero'], title: null },
        y: { field: 'seconds', type: 'quantitative', title: 'seconds per checkpoint' },
        color: { field: 'step', type: 'nominal', sort: [...steps] },
        order: { field: 'order', type: 'quantitative' },
      },
    },
  };
}

/** Image size at each periodic checkpoint: baseline, p2b, p2b+zero, oracle+zero (first seed). */
export function sizeOverTimeChart(cases: readonly CaseResult[]): TopLevelSpec {
  const seen = new Set<string>();
  const values = cases.flatMap((c) => {
    const key = `${c.guest}/${c.workload}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return c.checkpoints.flatMap((row) =>
      (['baseline', 'p2b', 'p2b+zero', 'oracle+zero'] as const).map((scheme) => ({
        guest: c.guest,
        workload: c.workload,
        scheme,
        progress: row.events / c.events,
        mib: row.schemes[scheme].bytes / MiB,
      })),
    );
  });
  return {
    ...base,
    title: 'Image size at each periodic checkpoint',
    data: { values },
    facet: {
      row: { field: 'guest', sort: GUEST_ORDER, title: null },
      column: { field: 'workload', title: null },
    },
    spec: {
      width: 120,
      height: 90,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'progress', type: 'quantitative', axis: { format: '%' }, title: 'run' },
        y: { field: 'mib', type: 'quantitative', title: 'MiB' },
        color: { field: 'scheme', type: 'nominal', sort: ['baseline', 'p2b', 'p2b+zero', 'oracle+zero'] },
      },
    },
  };
}

/** Capture ratio per delivery mode: the tracker's mapped pages over the pages the oracle found. */
export function captureChart(summaries: readonly CaseSummary[]): TopLevelSpec {
  const values = summaries.flatMap((s) =>
    DELIVERIES.map((delivery) => ({
      guest: s.guest,
      workload: s.workload,
      delivery,
      capture: s.captureBy[delivery].mean,
    })),
  );
  return {
    ...base,
    title: 'Capture ratio: mapped pages / oracle pages',
    data: { values },
    facet: { column: { field: 'delivery', title: null, sort: [...DELIVERIES] } },
    spec: {
      width: 260,
      height: 200,
      mark: 'bar',
      encoding: {
        x: { field: 'workload', type: 'nominal', title: null },
        xOffset: { field: 'guest', sort: GUEST_ORDER },
        y: { field: 'capture', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'guest', type: 'nominal', sort: GUEST_ORDER, title: 'guest kind' },
      },
    },
  };
}
