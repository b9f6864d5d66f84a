// The decision rule of an A/B comparison, once: B differs from A only when the 95% interval of the
// aggregate IQM difference (B - A) excludes 0 AND the interval of P(B > A) excludes 0.5, on the
// same side, with at least MIN_RUNS_FOR_VERDICT runs per arm. The summary's verdict and the power
// analysis (src/stats/power.ts) both apply this function, so "how many seeds would decide it" is
// answered for the rule the tool really uses.
import {
  aggregateIqm,
  type BootstrapOptions,
  differenceCI,
  type Interval,
  probabilityOfImprovementCI,
  type TaskScores,
} from './aggregate.js';

/** Runs per arm below which no verdict is drawn at all. */
export const MIN_RUNS_FOR_VERDICT = 3;

export type Direction = 'better' | 'worse';

export interface Significance {
  significant: boolean;
  /** B's direction relative to A when significant. */
  direction: Direction | null;
}

/** The rule on intervals already computed (the summary computes them with its own seeds). */
export function significance(iqmDiff: Interval, poi: Interval, minRunsPerArm: number): Significance {
  if (minRunsPerArm < MIN_RUNS_FOR_VERDICT) return { significant: false, direction: null };
  if (iqmDiff.lo > 0 && poi.lo > 0.5) return { significant: true, direction: 'better' };
  if (iqmDiff.hi < 0 && poi.hi < 0.5) return { significant: true, direction: 'worse' };
  return { significant: false, direction: null };
}

export interface Decision extends Significance {
  iqmDiff: Interval;
  poi: Interval;
}

/** Computes both intervals from the scores (stratified bootstrap, one seed for both) and applies the rule. */
export function decide(a: TaskScores, b: TaskScores, opts: BootstrapOptions = {}): Decision {
  const iqmDiff = differenceCI(a, b, aggregateIqm, opts);
  const poi = probabilityOfImprovementCI(a, b, opts);
  const minRuns = Math.min(...a.map((r) => r.length), ...b.map((r) => r.length));
  return { ...significance(iqmDiff, poi, minRuns), iqmDiff, poi };
}
