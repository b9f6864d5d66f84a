// The summary of an A/B experiment (summary.json), from what is on disk (finished or not), in three
// steps: summary-load.ts reads the runs, summary-compute.ts computes the statistics (pure),
// summary-describe.ts puts the verdicts and notes in words. This module composes them and is the
// entry point the report, the commands and the tests use.
import { PACKAGE_VERSION } from '../version.js';
import { computeSummary } from './summary-compute.js';
import { describeSummary } from './summary-describe.js';
import { loadExperiment } from './summary-load.js';
import type { Summary, SummaryOptions } from './summary-types.js';

export {
  interpolate,
  MIN_RUNS_FOR_VERDICT,
  meanCurve,
  RUN_CURVE_POINTS,
} from './summary-compute.js';
export {
  decimalsFor,
  fmt,
  fmtInterval,
  plural,
  scoreUnit,
  type VerdictInput,
  verdict,
} from './summary-describe.js';
export * from './summary-types.js';

export function summarizeExperiment(expDir: string, opts: SummaryOptions = {}): Summary {
  const stats = computeSummary(loadExperiment(expDir), {
    reps: opts.reps ?? 2000,
    seed: opts.seed ?? 0,
    gridPoints: opts.gridPoints ?? 50,
    score: opts.score ?? 'final',
  });
  return describeSummary(stats, {
    createdAt: new Date().toISOString(),
    report: opts.versions ?? { coordrl: PACKAGE_VERSION, node: process.versions.node },
  });
}
