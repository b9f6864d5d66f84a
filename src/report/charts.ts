// Charts of an experiment summary as Vega-Lite specs, rendered to SVG in Node by Vega (no
// canvas, no browser, no network: the data is inline) and to PNG by resvg.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { type GameSummary, type Summary, scoreUnit } from '../experiments/summary.js';

/** Fonts that Debian's fonts-dejavu-core gives resvg; browsers fall back to their sans-serif. */
export const CHART_FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

const CONFIG = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  title: { fontSize: 14, anchor: 'start' as const },
};

export interface Chart {
  /** File stem under plots/, e.g. curves-pong. */
  name: string;
  title: string;
  spec: TopLevelSpec;
}

function armScale(summary: Summary) {
  return { domain: summary.experiment.arms.map((a) => a.name) };
}

/** Frame counts as 250k, 1.5M on the axes (Vega's SI format without trailing zeros). */
const FRAMES_AXIS = { format: '~s', labelExpr: "datum.value === 0 ? '0' : datum.label" };

export function curvesChart(summary: Summary, g: GameSummary): Chart {
  const values = g.curves.flatMap((c) => c.points.map((p) => ({ arm: c.arm, ...p })));
  const x = { field: 'frames', type: 'quantitative' as const, title: 'frames', axis: FRAMES_AXIS };
  const color = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), title: 'arm' };
  return {
    name: `curves-${g.game}`,
    title: `${g.env}: learning curves`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: `${g.env}: learning curves`,
        subtitle: 'training score (mean of the last 100 episodes), mean over seeds with 95% bootstrap band',
      },
      width: 560,
      height: 260,
      data: { values },
      config: CONFIG,
      layer: [
        {
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x,
            y: { field: 'lo', type: 'quantitative', title: 'score', scale: { zero: false } },
            y2: { field: 'hi' },
            color,
          },
        },
        {
          mark: { type: 'line', strokeWidth: 2 },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative', title: 'score', scale: { zero: false } },
            color,
          },
        },
      ],
    },
  };
}

/** One line per run (seed), coloured by arm, with a dot at each logged point so short runs show. */
export function runCurvesChart(summary: Summary, g: GameSummary): Chart {
  const values = g.runCurves.flatMap((c) =>
    c.points.map((p) => ({ arm: c.arm, run: `${c.arm} seed ${c.seed}`, frames: p.frames, score: p.score })),
  );
  const x = { field: 'frames', type: 'quantitative' as const, title: 'frames', axis: FRAMES_AXIS };
  const y = { field: 'score', type: 'quantitative' as const, title: 'score', scale: { zero: false } };
  const color = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), title: 'arm' };
  return {
    name: `runs-${g.game}`,
    title: `${g.env}: every run`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: `${g.env}: every run`,
        subtitle: 'training score (mean of the last 100 episodes), one line per seed',
      },
      width: 560,
      height: 240,
      data: { values },
      config: CONFIG,
      layer: [
        { mark: { type: 'line', strokeWidth: 1.2, opacity: 0.8 }, encoding: { x, y, color, detail: { field: 'run' } } },
        { mark: { type: 'point', filled: true, size: 14, opacity: 0.8 }, encoding: { x, y, color } },
      ],
    },
  };
}

export function finalScoresChart(summary: Summary, g: GameSummary): Chart {
  const runs = g.arms.flatMap((a) => a.runs.map((r) => ({ arm: a.arm, seed: r.seed, score: r.score })));
  const means = g.arms.filter((a) => a.mean !== null).map((a) => ({ arm: a.arm, mean: a.mean }));
  const y = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), title: null };
  const color = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), legend: null };
  return {
    name: `final-${g.game}`,
    title: `${g.env}: final scores`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: `${g.env}: final scores`, subtitle: 'one dot per seed, bar = mean' },
      width: 560,
      height: { step: 34 },
      config: CONFIG,
      layer: [
        {
          data: { values: runs },
          mark: { type: 'point', filled: true, size: 70, opacity: 0.75 },
          encoding: { x: { field: 'score', type: 'quantitative', title: 'final score (raw)' }, y, color },
        },
        {
          data: { values: means },
          mark: { type: 'tick', thickness: 3, size: 26 },
          encoding: { x: { field: 'mean', type: 'quantitative' }, y, color },
        },
      ],
    },
  };
}

function intervalPanel(
  values: { arm: string; estimate: number; lo: number; hi: number }[],
  title: string,
  xTitle: string,
  /** Order of the rows (the arms); null: the order of `values`. */
  domain: string[] | null,
  refLine?: number,
  xDomain?: [number, number],
) {
  const scale = { domain: domain ?? values.map((v) => v.arm) };
  const y = { field: 'arm', type: 'nominal' as const, scale, title: null };
  const color = domain ? { field: 'arm', type: 'nominal' as const, scale, legend: null } : { value: '#4c78a8' };
  const layers: object[] = [
    {
      mark: { type: 'rule', strokeWidth: 6, opacity: 0.45 },
      encoding: {
        x: { field: 'lo', type: 'quantitative', title: xTitle, scale: xDomain ? { domain: xDomain } : { zero: false } },
        x2: { field: 'hi' },
        y,
        color,
      },
    },
    {
      mark: { type: 'point', filled: true, size: 90, shape: 'diamond' },
      encoding: { x: { field: 'estimate', type: 'quantitative' }, y, color: { value: 'black' } },
    },
  ];
  if (refLine !== undefined) {
    layers.unshift({
      data: { values: [{ ref: refLine }] },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#888' },
      encoding: { x: { field: 'ref', type: 'quantitative' } },
    });
  }
  return { title, width: 200, height: { step: 30 }, data: { values }, layer: layers };
}

export function aggregateChart(summary: Summary): Chart | null {
  const agg = summary.aggregate;
  if (!agg) return null;
  const unit = scoreUnit(summary.normalization.kind);
  const panel = (key: 'iqm' | 'median' | 'mean', title: string) =>
    intervalPanel(
      agg.arms.map((a) => ({ arm: a.arm, ...a[key] })),
      title,
      unit,
      armScale(summary).domain,
    );
  return {
    name: 'aggregate',
    title: 'Aggregate metrics',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Aggregate metrics with 95% stratified bootstrap intervals',
        subtitle: `${agg.games.length} game${agg.games.length === 1 ? '' : 's'}: ${agg.games.join(', ')}`,
      },
      config: CONFIG,
      hconcat: [panel('iqm', 'IQM'), panel('median', 'Median'), panel('mean', 'Mean')],
    } as TopLevelSpec,
  };
}

export function improvementChart(summary: Summary): Chart | null {
  if (!summary.comparisons.length) return null;
  const unit = scoreUnit(summary.normalization.kind, true);
  const label = (c: { a: string; b: string }) => `${c.b} vs ${c.a}`;
  const rows = (key: 'poi' | 'iqmDiff') => summary.comparisons.map((c) => ({ arm: label(c), ...c[key] }));
  const panel = (values: ReturnType<typeof rows>, title: string, xTitle: string, ref: number, x?: [number, number]) =>
    intervalPanel(values, title, xTitle, null, ref, x);
  return {
    name: 'improvement',
    title: 'Probability of improvement',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'B vs A with 95% stratified bootstrap intervals', subtitle: 'dashed: no difference' },
      config: CONFIG,
      hconcat: [
        panel(rows('poi'), 'P(B > A)', 'probability of improvement', 0.5, [0, 1]),
        panel(rows('iqmDiff'), 'IQM(B) - IQM(A)', `difference (${unit})`, 0),
      ],
    } as TopLevelSpec,
  };
}

export function profileChart(summary: Summary): Chart | null {
  const agg = summary.aggregate;
  if (!agg) return null;
  const values = agg.profile.arms.flatMap((a) =>
    a.points.map((p, i) => ({ arm: a.arm, tau: agg.profile.taus[i], fraction: p.estimate, lo: p.lo, hi: p.hi })),
  );
  const unit = scoreUnit(summary.normalization.kind);
  const x = { field: 'tau', type: 'quantitative' as const, title: `${unit} (tau)`, axis: { format: '~g' } };
  const color = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), title: 'arm' };
  return {
    name: 'profile',
    title: 'Performance profile',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'Performance profile', subtitle: 'fraction of runs scoring above tau, with 95% bootstrap band' },
      width: 560,
      height: 260,
      data: { values },
      config: CONFIG,
      layer: [
        {
          mark: { type: 'area', opacity: 0.2, interpolate: 'step-after' },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
        },
        {
          mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
          encoding: {
            x,
            y: { field: 'fraction', type: 'quantitative', title: 'fraction of runs > tau', scale: { domain: [0, 1] } },
            color,
          },
        },
      ],
    },
  };
}

/**
 * Sample-efficiency curves: each arm's aggregate IQM against frames with its 95% stratified
 * bootstrap band (rliable's plot_sample_efficiency_curve), and below it the IQM difference of each
 * arm against the baseline with its band and a dashed line at no difference.
 */
export function sampleEfficiencyChart(summary: Summary): Chart | null {
  const se = summary.sampleEfficiency;
  if (!se) return null;
  const unit = scoreUnit(summary.normalization.kind);
  const x = { field: 'frames', type: 'quantitative' as const, title: 'frames', axis: FRAMES_AXIS };
  const band = (values: object[], yTitle: string, color: object) => [
    {
      data: { values },
      mark: { type: 'area', opacity: 0.2 },
      encoding: {
        x,
        y: { field: 'lo', type: 'quantitative', title: yTitle, scale: { zero: false } },
        y2: { field: 'hi' },
        color,
      },
    },
    {
      data: { values },
      mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 16 } },
      encoding: { x, y: { field: 'estimate', type: 'quantitative', title: yTitle, scale: { zero: false } }, color },
    },
  ];
  const armValues = se.arms.flatMap((a) => a.points.map((p, i) => ({ arm: a.arm, frames: se.grid[i], ...p })));
  const diffValues = se.differences.flatMap((d) =>
    d.points.map((p, i) => ({ comparison: `${d.b} - ${d.a}`, frames: se.grid[i], ...p })),
  );
  const armColor = { field: 'arm', type: 'nominal' as const, scale: armScale(summary), title: 'arm' };
  // Not the arms' colours (the first would be the baseline's blue): a difference is no arm.
  const diffColor = {
    field: 'comparison',
    type: 'nominal' as const,
    title: 'B - A',
    scale: { range: ['#54a24b', '#b279a2', '#9d755d', '#79706e'] },
  };
  const zero = {
    data: { values: [{ ref: 0 }] },
    mark: { type: 'rule', strokeDash: [4, 3], color: '#888' },
    encoding: { y: { field: 'ref', type: 'quantitative' } },
  };
  return {
    name: 'sample-efficiency',
    title: 'Sample efficiency',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Sample efficiency: aggregate IQM of training scores against frames',
        subtitle: `${unit} of the training curves, IQM over all runs of all games, 95% stratified bootstrap bands`,
      },
      config: CONFIG,
      vconcat: [
        { title: 'IQM per arm', width: 560, height: 240, layer: band(armValues, `IQM (${unit})`, armColor) },
        {
          title: 'IQM(B) - IQM(A)',
          width: 560,
          height: 200,
          layer: [zero, ...band(diffValues, 'IQM difference', diffColor)],
        },
      ],
      resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    } as TopLevelSpec,
  };
}

/** Every chart of the report, in reading order. */
export function reportCharts(summary: Summary): Chart[] {
  const out: Chart[] = [];
  for (const c of [aggregateChart(summary), improvementChart(summary), profileChart(summary)]) if (c) out.push(c);
  const se = sampleEfficiencyChart(summary);
  if (se) out.push(se);
  for (const g of summary.games) {
    if (g.curves.some((c) => c.points.length)) out.push(curvesChart(summary, g));
    if (g.runCurves.some((c) => c.points.length)) out.push(runCurvesChart(summary, g));
    if (g.arms.some((a) => a.n)) out.push(finalScoresChart(summary, g));
  }
  return out;
}

/** SVG text of a Vega-Lite spec. `idPrefix` keeps ids (clip paths, gradients) unique when several SVGs share a page. */
export async function renderSvg(spec: TopLevelSpec, idPrefix = ''): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return idPrefix ? prefixIds(svg, idPrefix) : svg;
  } finally {
    view.finalize();
  }
}

export function prefixIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  if (!ids.size) return svg;
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (all, lead: string, id: string) =>
    ids.has(id) ? `${lead}${prefix}${id}` : all,
  );
}

/** An SVG rasterised by resvg (2x for sharp text), with system fonts loaded for the labels. */
export function svgToImage(
  svg: string,
  zoom = 2,
): { width: number; height: number; pixels: Buffer; png: () => Buffer } {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: zoom },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  }).render();
  return { width: r.width, height: r.height, pixels: r.pixels, png: () => r.asPng() };
}

export function svgToPng(svg: string, zoom = 2): Buffer {
  return svgToImage(svg, zoom).png();
}
