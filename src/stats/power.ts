// How many seeds would decide an A/B comparison: power analysis of the tool's own decision rule
// (src/stats/decision.ts) by simulation from pilot runs, with the closed form of Colas et al.
// (2018, "How many random seeds?") as a cross-check.
//
// - Analytic: Welch's t-test with equal variances and n runs per arm has (to the degree of
//   freedom) the power of Student's two-sample test: P(T' > t_{1-alpha, 2n-2}) with T' noncentral
//   t with 2n-2 degrees of freedom and noncentrality d sqrt(n/2), for the standardised effect
//   d = (mu_B - mu_A) / sigma. One-sided alpha 0.05, power 0.8 gives 51 / 21 / 14 / 7 / 4 runs per
//   arm for d = 0.5 / 0.8 / 1 / 1.5 / 2 (Colas et al. report 5 for d = 2, from Welch's test, whose
//   estimated degrees of freedom lose a little power at such small n).
// - Simulated: the pilot's runs of each game are resampled with replacement to n runs per arm
//   (B shifted by a constant where a given difference is asked for: the IQM is shift-equivariant,
//   so B - A then has exactly that IQM difference), the rule is applied to each simulated
//   experiment with its own bootstrap, and power is the fraction decided in the effect's
//   direction. A pilot's runs stand in for the distribution of runs, so a small pilot (under
//   five seeds) makes a rough estimate: the caller warns.
import jstat from 'jstat';
import { Rng } from '../util/rng.js';

const { jStat } = jstat;

import { iqm, mean, type TaskScores } from './aggregate.js';
import { decide, MIN_RUNS_FOR_VERDICT } from './decision.js';

export type Sided = 'one-sided' | 'two-sided';

/** Power of the two-sample t-test with n runs per arm for standardised effect d > 0. */
export function analyticPower(d: number, n: number, alpha = 0.05, sided: Sided = 'one-sided'): number {
  if (n < 2) return Number.NaN;
  const df = 2 * n - 2;
  const crit = jStat.studentt.inv(1 - (sided === 'one-sided' ? alpha : alpha / 2), df);
  const ncp = Math.abs(d) * Math.sqrt(n / 2);
  let p = 1 - jStat.noncentralt.cdf(crit, df, ncp);
  // The far tail of a two-sided test (the wrong direction) adds almost nothing; counted anyway.
  if (sided === 'two-sided') p += jStat.noncentralt.cdf(-crit, df, ncp);
  return p;
}

/** The smallest n per arm (2..maxSeeds) whose analytic power reaches `power`; null if none does. */
export function analyticSeeds(
  d: number,
  opts: { power?: number; alpha?: number; sided?: Sided; maxSeeds?: number } = {},
): number | null {
  const { power = 0.8, alpha = 0.05, sided = 'one-sided', maxSeeds = 10_000 } = opts;
  if (!(Math.abs(d) > 0)) return null;
  for (let n = 2; n <= maxSeeds; n++) if (analyticPower(d, n, alpha, sided) >= power) return n;
  return null;
}

export interface WelchResult {
  t: number;
  df: number;
  /** One-sided p-value for mean(y) > mean(x). */
  pGreater: number;
}

/** Welch's unequal-variance t-test of y against x. */
export function welchTTest(x: number[], y: number[]): WelchResult {
  const m = x.length;
  const n = y.length;
  const varOf = (v: number[], mu: number) => v.reduce((s, e) => s + (e - mu) ** 2, 0) / (v.length - 1);
  const mx = mean(x);
  const my = mean(y);
  const vx = varOf(x, mx) / m;
  const vy = varOf(y, my) / n;
  const se = Math.sqrt(vx + vy);
  const t = se > 0 ? (my - mx) / se : my > mx ? Infinity : my < mx ? -Infinity : 0;
  const df = se > 0 ? (vx + vy) ** 2 / (vx ** 2 / (m - 1) + vy ** 2 / (n - 1)) : m + n - 2;
  return { t, df, pGreater: 1 - jStat.studentt.cdf(t, df) };
}

/** Which rule a simulation applies to each simulated experiment. */
export type PowerRule =
  /** The tool's verdict: IQM-difference and P(B > A) intervals (bootstrap), src/stats/decision.ts. */
  | { kind: 'verdict'; reps: number; level?: number }
  /** Welch's one-sided t-test on the pooled runs of all games (Colas et al.'s test). */
  | { kind: 'welch'; alpha: number };

export interface SimulationOptions {
  /** Runs per arm of each simulated experiment. */
  n: number;
  rule: PowerRule;
  /** Simulated experiments (the estimate's standard error is sqrt(p (1 - p) / sims)). */
  sims: number;
  seed: number;
  /**
   * The IQM difference (B - A) the simulated experiments have, in the pilot's score units; absent:
   * the pilot's own difference. The direction counted as a success is this difference's sign.
   */
  effect?: number;
}

/** B's runs moved by a constant so that IQM(B) - IQM(A) over all runs is `effect`. */
export function shiftToEffect(a: TaskScores, b: TaskScores, effect: number): TaskScores {
  const shift = effect - (iqm(b.flat()) - iqm(a.flat()));
  return b.map((runs) => runs.map((v) => v + shift));
}

function resampleTo(t: TaskScores, n: number, rng: Rng): TaskScores {
  return t.map((runs) => Array.from({ length: n }, () => runs[rng.int(runs.length)]));
}

/** The fraction of simulated n-seed experiments that the rule decides in the effect's direction. */
export function simulatedPower(a: TaskScores, b: TaskScores, o: SimulationOptions): number {
  const bShifted = o.effect === undefined ? b : shiftToEffect(a, b, o.effect);
  const effect = o.effect ?? iqm(b.flat()) - iqm(a.flat());
  if (effect === 0) return Number.NaN;
  const want = effect > 0 ? 'better' : 'worse';
  const rng = new Rng(o.seed);
  let hits = 0;
  for (let s = 0; s < o.sims; s++) {
    const sa = resampleTo(a, o.n, rng);
    const sb = resampleTo(bShifted, o.n, rng);
    if (o.rule.kind === 'verdict') {
      const d = decide(sa, sb, { reps: o.rule.reps, level: o.rule.level ?? 0.95, seed: rng.int(2 ** 31) });
      if (d.significant && d.direction === want) hits++;
    } else {
      const w = welchTTest(sa.flat(), sb.flat());
      const p = effect > 0 ? w.pGreater : 1 - w.pGreater;
      if (p < o.rule.alpha) hits++;
    }
  }
  return hits / o.sims;
}

export interface PowerPoint {
  n: number;
  power: number;
}

export interface SeedsNeeded {
  /** Smallest n per arm found with power >= target; null when maxSeeds does not reach it. */
  n: number | null;
  /** Every n evaluated, ascending. */
  curve: PowerPoint[];
}

/**
 * The smallest n per arm in [MIN_RUNS_FOR_VERDICT, maxSeeds] whose simulated power reaches
 * `target`: doubling from the smallest n, then bisection (the power of more seeds is higher, up to
 * simulation noise). Each n uses the same seed, so neighbouring n share their random draws.
 */
export function seedsNeeded(
  a: TaskScores,
  b: TaskScores,
  o: Omit<SimulationOptions, 'n'> & { target: number; maxSeeds: number; onPoint?: (p: PowerPoint) => void },
): SeedsNeeded {
  const seen = new Map<number, number>();
  const powerAt = (n: number) => {
    let p = seen.get(n);
    if (p === undefined) {
      p = simulatedPower(a, b, { ...o, n });
      seen.set(n, p);
      o.onPoint?.({ n, power: p });
    }
    return p;
  };
  let lo = MIN_RUNS_FOR_VERDICT - 1; // power below target (no verdict below the minimum)
  let hi: number | null = null;
  for (let n = MIN_RUNS_FOR_VERDICT; ; n = Math.min(o.maxSeeds, n * 2)) {
    if (powerAt(n) >= o.target) {
      hi = n;
      break;
    }
    lo = n;
    if (n >= o.maxSeeds) break;
  }
  if (hi !== null) {
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (powerAt(mid) >= o.target) hi = mid;
      else lo = mid;
    }
  }
  const curve = [...seen.entries()].map(([n, power]) => ({ n, power })).sort((x, y) => x.n - y.n);
  return { n: hi, curve };
}

/**
 * The smallest IQM difference (in score units, same sign as `direction`) that n runs per arm
 * would detect with power >= target, by bisection on the effect between 0 and `maxEffect`.
 */
export function detectableEffect(
  a: TaskScores,
  b: TaskScores,
  o: Omit<SimulationOptions, 'effect'> & { target: number; maxEffect: number; direction: 1 | -1; steps?: number },
): number | null {
  const powerAt = (e: number) => simulatedPower(a, b, { ...o, effect: o.direction * e });
  if (powerAt(o.maxEffect) < o.target) return null;
  let lo = 0;
  let hi = o.maxEffect;
  for (let i = 0; i < (o.steps ?? 10); i++) {
    const mid = (lo + hi) / 2;
    if (powerAt(mid) >= o.target) hi = mid;
    else lo = mid;
  }
  return o.direction * hi;
}
