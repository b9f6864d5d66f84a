// Aggregate metrics with honest uncertainty, following Agarwal et al. (2021), "Deep RL at the
// Edge of the Statistical Precipice" (rliable): interquartile mean, mean and median over all runs
// of all tasks, 95% stratified bootstrap confidence intervals (runs resampled within each task),
// probability of improvement P(X > Y), and performance profiles.
import { quantileSorted, mean as ssMean } from 'simple-statistics';
import { Rng } from '../util/rng.js';

/** Scores per task (game): `scores[task][run]`. Tasks may have different numbers of runs. */
export type TaskScores = number[][];

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

export function mean(xs: number[]): number {
  return ssMean(xs);
}

export function median(xs: number[]): number {
  return quantileSorted(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * Interquartile mean: the mean of the middle 50% of the values, with fractional weights for the
 * values that straddle the 25th and 75th percentiles (scipy.stats.trim_mean(x, 0.25) for sizes
 * divisible by 4; the weighted form keeps it continuous for the others).
 */
export function iqm(xs: number[]): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const lo = n * 0.25;
  const hi = n * 0.75;
  let total = 0;
  for (let i = 0; i < n; i++) {
    // Overlap of [i, i+1) with [lo, hi).
    const w = Math.max(0, Math.min(i + 1, hi) - Math.max(i, lo));
    total += w * s[i];
  }
  return total / (hi - lo);
}

export type Aggregate = (flat: number[]) => number;
export const AGGREGATES: Record<'iqm' | 'mean' | 'median', Aggregate> = { iqm, mean, median };

function flatten(t: TaskScores): number[] {
  return t.flat();
}

function resampleWithin(t: TaskScores, rng: Rng): TaskScores {
  return t.map((runs) => runs.map(() => runs[rng.int(runs.length)]));
}

function percentileInterval(estimate: number, samples: number[], level: number): Interval {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return { estimate, lo: quantileSorted(s, alpha), hi: quantileSorted(s, 1 - alpha) };
}

export interface BootstrapOptions {
  reps?: number;
  level?: number;
  seed?: number;
}

/** Point estimate and percentile CI of `aggregate` over all runs, by stratified bootstrap. */
export function stratifiedBootstrapCI(t: TaskScores, aggregate: Aggregate, opts: BootstrapOptions = {}): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = opts;
  checkScores(t);
  const rng = new Rng(seed);
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(aggregate(flatten(resampleWithin(t, rng))));
  return percentileInterval(aggregate(flatten(t)), samples, level);
}

/** CI of aggregate(B) - aggregate(A), resampling both arms within each task. */
export function differenceCI(
  a: TaskScores,
  b: TaskScores,
  aggregate: Aggregate,
  opts: BootstrapOptions = {},
): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = opts;
  checkScores(a);
  checkScores(b);
  const rng = new Rng(seed);
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    samples.push(aggregate(flatten(resampleWithin(b, rng))) - aggregate(flatten(resampleWithin(a, rng))));
  }
  return percentileInterval(aggregate(flatten(b)) - aggregate(flatten(a)), samples, level);
}

/**
 * P(Y > X): for each task, the probability that a random run of Y beats a random run of X (ties
 * count one half: the Mann-Whitney U statistic over m*n pairs), averaged over tasks.
 */
export function probabilityOfImprovement(x: TaskScores, y: TaskScores): number {
  if (x.length !== y.length) throw new Error('probability of improvement: both arms need the same tasks');
  let total = 0;
  x.forEach((xs, task) => {
    const ys = y[task];
    let s = 0;
    for (const a of xs) for (const b of ys) s += b > a ? 1 : b === a ? 0.5 : 0;
    total += s / (xs.length * ys.length);
  });
  return total / x.length;
}

export function probabilityOfImprovementCI(x: TaskScores, y: TaskScores, opts: BootstrapOptions = {}): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = opts;
  checkScores(x);
  checkScores(y);
  const rng = new Rng(seed);
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(probabilityOfImprovement(resampleWithin(x, rng), resampleWithin(y, rng)));
  return percentileInterval(probabilityOfImprovement(x, y), samples, level);
}

/** Run-score distribution: fraction of all runs with a score above each threshold tau. */
export function performanceProfile(t: TaskScores, taus: number[]): number[] {
  const flat = flatten(t);
  return taus.map((tau) => flat.filter((v) => v > tau).length / flat.length);
}

export function performanceProfileCI(t: TaskScores, taus: number[], opts: BootstrapOptions = {}): Interval[] {
  const { reps = 1000, level = 0.95, seed = 0 } = opts;
  const rng = new Rng(seed);
  const samples: number[][] = taus.map(() => []);
  for (let r = 0; r < reps; r++) {
    const p = performanceProfile(resampleWithin(t, rng), taus);
    p.forEach((v, i) => {
      samples[i].push(v);
    });
  }
  const point = performanceProfile(t, taus);
  return taus.map((_, i) => percentileInterval(point[i], samples[i], level));
}

function checkScores(t: TaskScores): void {
  if (t.length === 0) throw new Error('no tasks to aggregate');
  t.forEach((runs, i) => {
    if (runs.length === 0) throw new Error(`task ${i} has no runs`);
    for (const v of runs) if (!Number.isFinite(v)) throw new Error(`task ${i} has a non-finite score (${v})`);
  });
}
