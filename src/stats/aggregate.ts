// Aggregate metrics with honest uncertainty, computed as rliable 1.2.0 computes them (Agarwal et
// al. 2021, "Deep RL at the Edge of the Statistical Precipice"), so that a reviewer who feeds the
// same scores to rliable gets the same numbers:
// - IQM: scipy.stats.trim_mean(scores, 0.25) over all runs of all tasks (rliable's aggregate_iqm);
// - mean and median: of the per-task mean scores (aggregate_mean / aggregate_median), so a task
//   with more runs does not weigh more;
// - 95% percentile intervals by stratified bootstrap: runs resampled with replacement within each
//   task, every task kept (StratifiedBootstrap; StratifiedIndependentBootstrap for two arms);
// - probability of improvement P(Y > X) and performance profiles (score distributions).
// Where rliable needs a full runs x tasks matrix, the same definitions apply per task here, so
// tasks may have different numbers of runs (missing runs). python-bridge/tests/test_rliable.py
// checks all of it against rliable itself.
import { Rng } from '../util/rng.js';

/** Scores per task (game): `scores[task][run]`. Tasks may have different numbers of runs. */
export type TaskScores = number[][];

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

export function mean(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Linear-interpolated percentile of sorted values, p in [0, 1] (numpy.percentile's default). */
export function percentileSorted(sorted: number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const i = (n - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

export function median(xs: number[]): number {
  return percentileSorted(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * Interquartile mean, exactly scipy.stats.trim_mean(xs, 0.25): drop floor(n/4) values at each
 * end and average the rest (for n < 4 nothing is dropped).
 */
export function iqm(xs: number[]): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(n * 0.25);
  return mean(s.slice(cut, n - cut));
}

/** An aggregate of a whole experiment arm: scores of every run of every task. */
export type Aggregate = (t: TaskScores) => number;

/** rliable's aggregate_iqm: the IQM over all runs of all tasks. */
export const aggregateIqm: Aggregate = (t) => iqm(t.flat());
/** rliable's aggregate_mean: the mean of the per-task mean scores. */
export const aggregateMean: Aggregate = (t) => mean(t.map(mean));
/** rliable's aggregate_median: the median of the per-task mean scores. */
export const aggregateMedian: Aggregate = (t) => median(t.map(mean));

export const AGGREGATES: Record<'iqm' | 'mean' | 'median', Aggregate> = {
  iqm: aggregateIqm,
  mean: aggregateMean,
  median: aggregateMedian,
};

function resampleWithin(t: TaskScores, rng: Rng): TaskScores {
  return t.map((runs) => runs.map(() => runs[rng.int(runs.length)]));
}

function percentileInterval(estimate: number, samples: number[], level: number): Interval {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return { estimate, lo: percentileSorted(s, alpha), hi: percentileSorted(s, 1 - alpha) };
}

export interface BootstrapOptions {
  reps?: number;
  level?: number;
  seed?: number;
}

/** Point estimate and percentile CI of `aggregate`, by stratified bootstrap (runs within tasks). */
export function stratifiedBootstrapCI(t: TaskScores, aggregate: Aggregate, opts: BootstrapOptions = {}): Interval {
  const { reps = 2000, level = 0.95, seed = 0 } = opts;
  checkScores(t);
  const rng = new Rng(seed);
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(aggregate(resampleWithin(t, rng)));
  return percentileInterval(aggregate(t), samples, level);
}

/** CI of aggregate(B) - aggregate(A), resampling each arm independently within each task. */
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
    samples.push(aggregate(resampleWithin(b, rng)) - aggregate(resampleWithin(a, rng)));
  }
  return percentileInterval(aggregate(b) - aggregate(a), samples, level);
}

/**
 * P(Y > X): for each task, the probability that a random run of Y beats a random run of X (ties
 * count one half: the Mann-Whitney U statistic over m*n pairs), averaged over tasks.
 */
export function probabilityOfImprovement(x: TaskScores, y: TaskScores): number {
  if (x.length !== y.length) throw new Error('probability of improvement: both arms need the same tasks');
  let total = 0;
  x.forEach((xs, task) => {
    total += pairWins(xs, y[task]) / (xs.length * y[task].length);
  });
  return total / x.length;
}

/**
 * The Mann-Whitney U of ys over xs: pairs (a in xs, b in ys) with b > a, ties counting one half.
 * By sorting ys once and counting with binary searches, O((m + n) log n) instead of m n: the power
 * analysis evaluates it millions of times. Sums of integers and halves are exact in floating
 * point, so the result equals the pairwise count bit for bit.
 */
function pairWins(xs: number[], ys: number[]): number {
  const s = Float64Array.from(ys).sort();
  const firstAtLeast = (v: number, strict: boolean) => {
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strict ? s[mid] <= v : s[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let wins = 0;
  for (const a of xs) {
    const below = firstAtLeast(a, false); // ys < a
    const notAbove = firstAtLeast(a, true); // ys <= a
    wins += s.length - notAbove + 0.5 * (notAbove - below);
  }
  return wins;
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
  const flat = t.flat();
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
