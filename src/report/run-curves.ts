// Learning curves of individual runs (`coordrl plot`): one line per run directory, any metric of
// metrics.jsonl against frames, steps or wall time. A/B experiments have `coordrl report`; this is
// for the runs you start by hand, e.g. to watch a long run or put two of them side by side.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { readMetrics } from '../training/metrics.js';
import { UsageError } from '../util/cli-errors.js';
import { CHART_FONT } from './charts.js';

export type CurveAxis = 'frames' | 'step' | 'time';

export interface RunSeries {
  label: string;
  runDir: string;
  points: { x: number; y: number }[];
}

/** Reads `metric` against `x` from each run's metrics.jsonl (records without the metric are skipped). */
export function readRunSeries(runDirs: string[], metric: string, x: CurveAxis, labels?: string[]): RunSeries[] {
  if (labels && labels.length !== runDirs.length) {
    throw new UsageError(
      `--labels has ${labels.length === 1 ? '1 name' : `${labels.length} names`} for ${runDirs.length === 1 ? '1 run' : `${runDirs.length} runs`}; give one per run`,
    );
  }
  const names = distinctLabels(runDirs.map((dir) => (isJsonl(dir) ? dir.replace(/\.jsonl$/, '') : dir)));
  return runDirs.map((dir, i) => {
    // A run directory, or any JSON-lines file of records with the same fields (e.g. another tool's log).
    const isFile = isJsonl(dir);
    const file = isFile ? dir : path.join(dir, 'metrics.jsonl');
    if (!existsSync(file)) throw new UsageError(`${dir} has no metrics.jsonl (is it a run directory?)`);
    const points = readMetrics(file)
      .filter((r) => Number.isFinite(r[metric]) && Number.isFinite(r[x]))
      .map((r) => ({ x: r[x], y: r[metric] }));
    const label = labels?.[i] ?? names[i];
    return { label, runDir: dir, points };
  });
}

function isJsonl(p: string): boolean {
  return p.endsWith('.jsonl') && existsSync(p) && statSync(p).isFile();
}

/**
 * The shortest path suffix of each run that tells it apart from the others: `conv/seed-1` and
 * `coordconv/seed-1` for `pong/conv/seed-1` and `pong/coordconv/seed-1` (A/B layouts name every
 * run folder `seed-N`); just the folder name where that is already unique.
 */
export function distinctLabels(paths: string[]): string[] {
  const parts = paths.map((p) => path.resolve(p).split(path.sep).filter(Boolean));
  return parts.map((mine, i) => {
    for (let k = 1; k <= mine.length; k++) {
      const suffix = mine.slice(-k).join('/');
      const clash = parts.some((other, j) => j !== i && other.slice(-k).join('/') === suffix);
      if (!clash) return suffix;
    }
    return mine.join('/'); // the same path twice: nothing tells them apart
  });
}

const AXIS_TITLES: Record<CurveAxis, string> = { frames: 'frames', step: 'agent steps', time: 'wall time (s)' };

/** A Vega-Lite line chart of the series. */
export function runCurvesSpec(series: RunSeries[], metric: string, x: CurveAxis, title?: string): TopLevelSpec {
  const values = series.flatMap((s) => s.points.map((p) => ({ run: s.label, x: p.x, y: p.y })));
  const subtitle = metric === 'score' ? 'score: mean raw game score of the last 100 games' : undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title ?? `${metric} against ${AXIS_TITLES[x]}`,
      ...(subtitle ? { subtitle } : {}),
      font: CHART_FONT,
    },
    width: 640,
    height: 300,
    background: 'white',
    config: { font: CHART_FONT },
    data: { values },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: AXIS_TITLES[x] },
      y: { field: 'y', type: 'quantitative', title: metric, scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', legend: { labelLimit: 400 } },
    },
  };
}
