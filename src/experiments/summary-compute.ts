// The numbers of an A/B experiment, from what summary-load.ts read: final scores per game and arm,
// learning curves with bootstrap bands, aggregate IQM / mean / median over games with 95% stratified
// bootstrap intervals, probability of improvement, performance profiles, and whether a difference
// is significant. Pure functions of that data (no disk, no clock); the words are
// summary-describe.ts's. Statistics come from src/stats.

import { frameSkipFor } from '../config.js';
import type { RunConfig } from '../run-config.js';
import {
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  differenceCI,
  mean,
  median,
  percentileSorted,
  performanceProfileCI,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
  type TaskScores,
} from '../stats/aggregate.js';
import { referenceScores } from '../stats/atari-scores.js';
import { MIN_RUNS_FOR_VERDICT, significance } from '../stats/decision.js';
import { minatarGame } from '../stats/minatar-scores.js';
import { normalizationOf, normalizedScore } from '../stats/reference-scores.js';
import type { MetricsRecord } from '../training/metrics.js';
import type { RunVersions } from '../training/run.js';
import { Rng } from '../util/rng.js';
import { configDiff } from './arms.js';
import type { FinalFile, ScoreSource } from './manifest.js';
import type { ExperimentOnDisk, RunOnDisk } from './summary-load.js';
import type {
  ArmGameScores,
  Comparison,
  CurvePoint,
  GameComparison,
  GameSummary,
  MissingRun,
  RunCurve,
  RunRecord,
  RunScore,
  SampleEfficiency,
  ScoreKind,
  Summary,
} from './summary-types.js';

export { MIN_RUNS_FOR_VERDICT };

/** Points kept of each run's own curve in the summary (evenly thinned, the last one always kept). */
export const RUN_CURVE_POINTS = 200;

// ---------------------------------------------------------------------------------------------
// Significance

/** What a comparison's intervals say, before it is put in words. */
export interface Judgement {
  significant: boolean;
  direction: 'better' | 'worse' | null;
  /** Fewer than MIN_RUNS_FOR_VERDICT runs per arm: no claim at all. */
  tooFewRuns: boolean;
  /** The IQM-difference interval lies above / below 0. */
  diffUp: boolean;
  diffDown: boolean;
  /** The P(B > A) interval lies above / below 0.5. */
  poiUp: boolean;
  poiDown: boolean;
}

/** The claim of src/stats/decision.ts's rule (the one the power analysis simulates), with the parts the verdict words need. */
export function judge(v: Pick<Comparison, 'runsPerArm' | 'iqmDiff' | 'poi'>): Judgement {
  const { significant, direction } = significance(v.iqmDiff, v.poi, v.runsPerArm.min);
  return {
    significant,
    direction,
    tooFewRuns: v.runsPerArm.min < MIN_RUNS_FOR_VERDICT,
    diffUp: v.iqmDiff.lo > 0,
    diffDown: v.iqmDiff.hi < 0,
    poiUp: v.poi.lo > 0.5,
    poiDown: v.poi.hi < 0.5,
  };
}

// ---------------------------------------------------------------------------------------------
// Learning curves

export interface CurveData {
  frames: number[];
  score: number[];
}

/** Linear interpolation of one run's curve at `x`, or null outside the logged range. */
export function interpolate(c: CurveData, x: number): number | null {
  const f = c.frames;
  if (!f.length || x < f[0] || x > f[f.length - 1]) return null;
  const hi = f.findIndex((v) => v >= x);
  if (f[hi] === x) return c.score[hi];
  const lo = hi - 1;
  const t = (x - f[lo]) / (f[hi] - f[lo]);
  return c.score[lo] + t * (c.score[hi] - c.score[lo]);
}

function thin(c: CurveData, n: number): { frames: number; score: number }[] {
  const len = c.frames.length;
  const idx = len <= n ? [...Array(len).keys()] : [...new Set(linspace(0, len - 1, n).map(Math.round))];
  return idx.map((i) => ({ frames: c.frames[i], score: c.score[i] }));
}

/** A run's learning curve: its records with a finite training score, frames strictly increasing. */
export function curveOf(records: MetricsRecord[]): CurveData {
  const frames: number[] = [];
  const score: number[] = [];
  for (const r of records) {
    const s = r.score as number | null;
    if (typeof s === 'number' && Number.isFinite(s) && Number.isFinite(r.frames)) {
      if (frames.length && r.frames <= frames[frames.length - 1]) continue;
      frames.push(r.frames);
      score.push(s);
    }
  }
  return { frames, score };
}

/** Mean curve across runs on a common frames grid, with a 95% bootstrap band over runs. */
export function meanCurve(curves: CurveData[], grid: number[], reps: number, seed: number): CurvePoint[] {
  const rng = new Rng(seed);
  const out: CurvePoint[] = [];
  for (const x of grid) {
    const ys = curves.map((c) => interpolate(c, x)).filter((y): y is number => y !== null);
    if (!ys.length) continue;
    const m = mean(ys);
    if (ys.length === 1) {
      out.push({ frames: x, mean: m, lo: m, hi: m, n: 1 });
      continue;
    }
    const samples: number[] = [];
    for (let r = 0; r < reps; r++) {
      let s = 0;
      for (let i = 0; i < ys.length; i++) s += ys[rng.int(ys.length)];
      samples.push(s / ys.length);
    }
    samples.sort((p, q) => p - q);
    out.push({
      frames: x,
      mean: m,
      lo: percentileSorted(samples, 0.025),
      hi: percentileSorted(samples, 0.975),
      n: ys.length,
    });
  }
  return out;
}

function linspace(a: number, b: number, n: number): number[] {
  if (n <= 1 || a === b) return [a];
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** The common frames grid of some curves: `points` points from 0 to their largest logged frame count (none: empty). */
export function framesGrid(curves: CurveData[], points: number): number[] {
  const maxFrames = Math.max(0, ...curves.map((c) => c.frames.at(-1) ?? 0));
  return maxFrames > 0 ? linspace(0, maxFrames, points) : [];
}

// ---------------------------------------------------------------------------------------------
// Sample-efficiency curves

/** One arm's runs per game, each run's learning curve in raw score, and the normalisation of each game. */
export interface ArmCurves {
  arm: string;
  games: { env: string; runs: CurveData[] }[];
}

/**
 * rliable's sample-efficiency curves on a frames grid: at each point, each run's raw training
 * score interpolated there (a run whose curve does not reach the point is left out there),
 * normalised by `normalize`; then per arm the aggregate IQM over all those runs of all games
 * with a stratified bootstrap interval, and per arm after the first (the baseline) the IQM
 * difference B - A (arms resampled independently). A point is kept only where every game has at
 * least one run of every arm, so every arm's IQM there is over the same games. Null: no point kept.
 */
export function sampleEfficiencyCurves(
  arms: ArmCurves[],
  grid: number[],
  normalize: (env: string, score: number) => number,
  opts: { reps: number; seed: number },
): SampleEfficiency | null {
  const kept: { frames: number; scores: TaskScores[] }[] = [];
  for (const x of grid) {
    const scores = arms.map((a) =>
      a.games.map((g) =>
        g.runs
          .map((c) => interpolate(c, x))
          .filter((y): y is number => y !== null)
          .map((y) => normalize(g.env, y)),
      ),
    );
    if (scores.every((t) => t.length > 0 && t.every((runs) => runs.length > 0))) kept.push({ frames: x, scores });
  }
  if (!kept.length) return null;
  const { reps, seed } = opts;
  // Every interval has its own resamples (rliable resamples each frame independently as well).
  const seedAt = (k: number, what: number) => seed + 100_000 * (1 + what) + k;
  return {
    grid: kept.map((p) => p.frames),
    arms: arms.map((a, i) => ({
      arm: a.arm,
      points: kept.map((p, k) => stratifiedBootstrapCI(p.scores[i], aggregateIqm, { reps, seed: seedAt(k, i) })),
      runs: kept.map((p) => p.scores[i].flat().length),
    })),
    differences: arms.slice(1).map((b, bi) => ({
      a: arms[0].arm,
      b: b.arm,
      points: kept.map((p, k) =>
        differenceCI(p.scores[0], p.scores[bi + 1], aggregateIqm, { reps, seed: seedAt(k, arms.length + bi) }),
      ),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// The summary's numbers

/** Why a run has no final score in the summary (summary-describe.ts words it). */
export type MissingCause =
  | { kind: 'failed'; error: string | null }
  | { kind: 'not started' }
  | { kind: 'not evaluated' }
  | { kind: 'training'; steps: number; budgetSteps: number | null }
  | { kind: 'no training window' };

export type MissingStats = Omit<MissingRun, 'detail'> & { cause: MissingCause };

/** A run record before its note: `noEpisodeIn` is the step count when no training episode finished. */
export type RunStats = Omit<RunRecord, 'note'> & { noEpisodeIn: number | null };

export type ComparisonStats = Omit<Comparison, 'verdict'>;

/** Everything of the summary but its words: the input of summary-describe.ts. */
export interface SummaryStats {
  experiment: Summary['experiment'];
  /** coordrl version that created the experiment. */
  experimentVersion: string;
  budget: Summary['budget'];
  hyperparameters: Summary['hyperparameters'];
  runVersions: Summary['versions']['runs'];
  runs: RunStats[];
  progress: { total: number; done: number; missing: MissingStats[] };
  source: Summary['scores']['source'];
  normalization: {
    kind: ScoreKind;
    /** The envs without reference scores, and whether any of them is a MinAtar game. */
    noReference: string[];
    noReferenceMinatar: boolean;
    games: number;
  };
  games: GameSummary[];
  /** Games left out of the aggregate, with the arms that have no final score there yet. */
  excluded: { game: string; armsWithout: string[] }[];
  aggregate: Omit<NonNullable<Summary['aggregate']>, 'excluded'> | null;
  comparisons: ComparisonStats[];
  configDiff: Summary['configDiff'];
  bootstrap: Summary['bootstrap'];
  sampleEfficiency: SampleEfficiency | null;
}

export interface ComputeOptions {
  reps: number;
  seed: number;
  gridPoints: number;
  score: 'final' | 'train';
}

/** The resolved configuration fields every arm has with the same value (env and seed aside). */
function sharedConfig(configs: { arm: string; config: RunConfig }[]): Record<string, unknown> {
  if (!configs.length) return {};
  const out: Record<string, unknown> = {};
  const first = configs[0].config as Record<string, unknown>;
  for (const field of Object.keys(first).sort()) {
    if (field === 'env' || field === 'seed') continue;
    const v = JSON.stringify(first[field] ?? null);
    if (configs.every((c) => JSON.stringify((c.config as Record<string, unknown>)[field] ?? null) === v)) {
      out[field] = first[field];
    }
  }
  return out;
}

function missingStats(r: RunOnDisk): MissingStats {
  const { run } = r;
  const base = { id: run.id, game: run.game, arm: run.arm, seed: run.seed };
  if (run.status === 'failed')
    return { ...base, status: 'failed', cause: { kind: 'failed', error: run.error ?? null } };
  if (!r.started) return { ...base, status: 'not started', cause: { kind: 'not started' } };
  if (run.status === 'trained') return { ...base, status: 'not evaluated', cause: { kind: 'not evaluated' } };
  const steps = Math.max(r.metrics.at(-1)?.step ?? 0, run.steps ?? 0);
  return {
    ...base,
    status: run.status === 'running' ? 'running' : 'partial',
    cause: { kind: 'training', steps, budgetSteps: r.runFile?.budgetSteps ?? null },
  };
}

/** The score of a finished run that the summary uses (null: the run has no such score). */
function pickScore(f: FinalFile, which: 'final' | 'train'): { score: number; source: ScoreSource } | null {
  if (which === 'final' || f.source === 'train-window') return { score: f.score, source: f.source };
  const t = f.trainScore;
  return typeof t === 'number' && Number.isFinite(t) ? { score: t, source: 'train-window' } : null;
}

/**
 * Atari games are human-normalised, MinAtar games reference-normalised (src/stats/minatar-scores.ts);
 * games without reference scores, and experiments mixing the two families, use raw scores.
 */
function normalizationFor(envs: string[]): SummaryStats['normalization'] {
  const kinds = envs.map((e) => normalizationOf(e));
  const kind: ScoreKind = kinds.every((k) => k === 'human')
    ? 'human'
    : kinds.every((k) => k === 'minatar')
      ? 'minatar'
      : 'raw';
  const noReference = envs.filter((_e, i) => kinds[i] === null);
  return {
    kind,
    noReference,
    noReferenceMinatar: noReference.some((e) => minatarGame(e) !== null),
    games: envs.length,
  };
}

/** The final score each finished run contributes, and why each other run has none. */
function finalScores(
  runs: RunOnDisk[],
  which: 'final' | 'train',
): { finals: Map<string, RunScore>; missing: MissingStats[]; source: SummaryStats['source'] } {
  const finals = new Map<string, RunScore>();
  const missing: MissingStats[] = [];
  const sources = new Set<ScoreSource>();
  for (const r of runs) {
    const { run, final: f } = r;
    const picked = f ? pickScore(f, which) : null;
    if (f && picked) {
      finals.set(run.id, {
        seed: run.seed,
        score: picked.score,
        normalized: normalizedScore(run.env, picked.score),
        source: picked.source,
      });
      sources.add(picked.source);
    } else if (f) {
      const base = { id: run.id, game: run.game, arm: run.arm, seed: run.seed };
      missing.push({ ...base, status: 'partial', cause: { kind: 'no training window' } });
    } else missing.push(missingStats(r));
  }
  const source = sources.size === 0 ? 'none' : sources.size > 1 ? 'mixed' : [...sources][0];
  return { finals, missing, source };
}

/** One game: per-arm final scores, mean learning curves, each run's curve, each arm against the baseline. */
function gameSummary(
  exp: ExperimentOnDisk,
  { env, game }: { env: string; game: string },
  gi: number,
  finals: Map<string, RunScore>,
  opts: ComputeOptions,
): GameSummary {
  const { reps, seed } = opts;
  const armNames = exp.manifest.arms.map((a) => a.name);
  const baseline = armNames[0];
  const runsOf = (arm: string) => exp.runs.filter((r) => r.run.game === game && r.run.arm === arm);
  const arms: ArmGameScores[] = armNames.map((arm) => {
    const planned = runsOf(arm);
    const rs = planned.map((r) => finals.get(r.run.id)).filter((r): r is RunScore => r !== undefined);
    const xs = rs.map((r) => r.score);
    return {
      arm,
      n: rs.length,
      planned: planned.length,
      runs: rs,
      mean: xs.length ? mean(xs) : null,
      median: xs.length ? median(xs) : null,
      min: xs.length ? Math.min(...xs) : null,
      max: xs.length ? Math.max(...xs) : null,
    };
  });
  // Curves on a grid from 0 to the largest logged frame count of this game.
  const curveData = new Map(armNames.map((arm) => [arm, runsOf(arm).map((r) => curveOf(r.metrics))]));
  const grid = framesGrid([...curveData.values()].flat(), opts.gridPoints);
  // Each grid must also hold every run's last point, so a short curve does not vanish.
  const curves = armNames.map((arm, ai) => {
    const cs = (curveData.get(arm) ?? []).filter((c) => c.frames.length);
    const own = [...new Set([...grid, ...cs.map((c) => c.frames.at(-1) as number)])].sort((p, q) => p - q);
    return { arm, points: meanCurve(cs, own, Math.min(reps, 1000), seed + 1000 * gi + ai) };
  });
  const comparisons: GameComparison[] = armNames.slice(1).map((b, bi) => {
    const A = arms[0];
    const B = arms[bi + 1];
    if (!A.n || !B.n) return { a: baseline, b, meanDiff: null, higher: null, poi: null };
    const xs = [A.runs.map((r) => r.score)];
    const ys = [B.runs.map((r) => r.score)];
    const meanDiff = differenceCI(xs, ys, aggregateMean, { reps, seed: seed + 7 * gi + bi });
    const higher =
      (B.mean as number) > (A.mean as number) ? 'b' : (B.mean as number) < (A.mean as number) ? 'a' : 'tie';
    // One game: the probability of improvement of a one-task matrix is that game's U / (n_a n_b).
    const poi = probabilityOfImprovementCI(xs, ys, { reps, seed: seed + 50_000 + 7 * gi + bi });
    return { a: baseline, b, meanDiff, higher, poi };
  });
  const runCurves: RunCurve[] = armNames.flatMap((arm) =>
    runsOf(arm).map((r, i) => ({
      arm,
      seed: r.run.seed,
      points: thin((curveData.get(arm) ?? [])[i], RUN_CURVE_POINTS),
    })),
  );
  return { game, env, reference: referenceScores(env), arms, curves, runCurves, comparisons };
}

/**
 * rliable's aggregates per arm over the games where every arm has a final score (`included`), the
 * performance profiles, and each arm against the baseline.
 */
function aggregateOver(
  included: GameSummary[],
  armNames: string[],
  kind: ScoreKind,
  opts: ComputeOptions,
): { aggregate: NonNullable<SummaryStats['aggregate']>; comparisons: ComparisonStats[] } {
  const { reps, seed } = opts;
  const baseline = armNames[0];
  const scoreOf = (r: RunScore) => (kind === 'raw' ? r.score : (r.normalized as number));
  const task = (arm: string): TaskScores =>
    included.map((g) => (g.arms.find((a) => a.arm === arm) as ArmGameScores).runs.map(scoreOf));
  const perArm = armNames.map((arm, i) => {
    const t = task(arm);
    const o = { reps, seed: seed + 100 + i };
    return {
      arm,
      runs: t.flat().length,
      iqm: stratifiedBootstrapCI(t, aggregateIqm, o),
      mean: stratifiedBootstrapCI(t, aggregateMean, o),
      median: stratifiedBootstrapCI(t, aggregateMedian, o),
    };
  });
  const all = armNames.flatMap((arm) => task(arm).flat());
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  // All scores equal: a range around that score, so the profile shows its step from 1 to 0.
  const pad = lo === hi ? Math.abs(lo) / 2 || 1 : 0;
  const taus = linspace(lo - pad, hi + pad, 41);
  const aggregate = {
    games: included.map((g) => g.game),
    arms: perArm,
    profile: {
      taus,
      arms: armNames.map((arm, i) => ({
        arm,
        points: performanceProfileCI(task(arm), taus, { reps: Math.min(reps, 1000), seed: seed + 200 + i }),
      })),
    },
  };
  const A = task(baseline);
  const comparisons = armNames.slice(1).map((b, bi): ComparisonStats => {
    const B = task(b);
    const o = { reps, seed: seed + 300 + bi };
    const iqmDiff = differenceCI(A, B, aggregateIqm, o);
    const meanDiff = differenceCI(A, B, aggregateMean, o);
    const poi = probabilityOfImprovementCI(A, B, o);
    const counts = included.map((g) => g.comparisons[bi].higher);
    const ns = included.flatMap((g) => [g.arms[0].n, g.arms[bi + 1].n]);
    const base = {
      a: baseline,
      b,
      games: included.length,
      gamesBetter: counts.filter((c) => c === 'b').length,
      gamesWorse: counts.filter((c) => c === 'a').length,
      gamesTied: counts.filter((c) => c === 'tie').length,
      runsPerArm: { min: Math.min(...ns), max: Math.max(...ns) },
      iqmDiff,
      meanDiff,
      poi,
    };
    const j = judge(base);
    return { ...base, significant: j.significant, direction: j.direction };
  });
  return { aggregate, comparisons };
}

/** One run as it stands: budget, how far it got, how fast, how it ended. */
function runStats(r: RunOnDisk, final: RunScore | undefined, missing: MissingStats | undefined): RunStats {
  const { run, metrics: records } = r;
  const last = records.at(-1);
  const curvePoints = records.filter((x) => typeof x.score === 'number' && Number.isFinite(x.score)).length;
  const wall = last && Number.isFinite(last.time) ? last.time : null;
  const episodes = last && Number.isFinite(last.episodes) ? last.episodes : null;
  return {
    id: run.id,
    game: run.game,
    env: run.env,
    arm: run.arm,
    seed: run.seed,
    status: final ? 'done' : (missing?.status ?? run.status),
    budgetSteps: r.budgetSteps,
    budgetFrames: r.budgetSteps * r.frameSkip,
    steps: last?.step ?? null,
    frames: last?.frames ?? null,
    wallSeconds: wall,
    stepsPerSecond: last && wall ? last.step / wall : null,
    episodes,
    curvePoints,
    finalScore: final?.score ?? null,
    noEpisodeIn: last && !episodes ? last.step : null,
    versions: r.versions,
  };
}

/** The distinct versions the runs recorded, each with the runs that trained with it. */
function versionGroups(runs: RunStats[]): SummaryStats['runVersions'] {
  const groups = new Map<string, { versions: RunVersions; runs: string[] }>();
  for (const r of runs) {
    if (!r.versions) continue;
    const key = JSON.stringify(r.versions);
    const g = groups.get(key) ?? { versions: r.versions, runs: [] };
    g.runs.push(r.id);
    groups.set(key, g);
  }
  return [...groups.values()];
}

export function computeSummary(exp: ExperimentOnDisk, opts: ComputeOptions): SummaryStats {
  const m = exp.manifest;
  const armNames = m.arms.map((a) => a.name);
  const { finals, missing, source } = finalScores(exp.runs, opts.score);
  const normalization = normalizationFor(m.envs.map((e) => e.env));
  const games = m.envs.map((g, gi) => gameSummary(exp, g, gi, finals, opts));

  // Aggregates over the games where every arm has at least one final score.
  const included = games.filter((g) => g.arms.every((a) => a.n > 0));
  const excluded = games
    .filter((g) => !included.includes(g))
    .map((g) => ({ game: g.game, armsWithout: g.arms.filter((a) => a.n === 0).map((a) => a.arm) }));
  const { aggregate, comparisons } = included.length
    ? aggregateOver(included, armNames, normalization.kind, opts)
    : { aggregate: null, comparisons: [] };

  const runs = exp.runs.map((r) =>
    runStats(
      r,
      finals.get(r.run.id),
      missing.find((x) => x.id === r.run.id),
    ),
  );
  const byGame = m.envs.map(({ game, env }) => {
    const r = runs.find((x) => x.game === game) as RunStats;
    return { game, steps: r.budgetSteps, frames: r.budgetFrames, frameSkip: frameSkipFor(env) };
  });
  const one = (xs: number[]) => (new Set(xs).size === 1 ? xs[0] : null);

  return {
    experiment: {
      dir: exp.dir,
      algo: m.algo,
      games: m.envs,
      arms: m.arms,
      baseline: armNames[0],
      seeds: m.seeds,
      evalEpisodes: m.evalEpisodes,
      command: m.command,
    },
    experimentVersion: m.coordrl,
    budget: { steps: one(runs.map((r) => r.budgetSteps)), frames: one(runs.map((r) => r.budgetFrames)), byGame },
    hyperparameters: { shared: sharedConfig(exp.armConfigs) },
    runVersions: versionGroups(runs),
    runs,
    progress: { total: m.runs.length, done: m.runs.length - missing.length, missing },
    source,
    normalization,
    games,
    excluded,
    aggregate,
    comparisons,
    configDiff: configDiff(exp.armConfigs),
    bootstrap: { reps: opts.reps, level: 0.95, seed: opts.seed },
    sampleEfficiency: experimentSampleEfficiency(exp, normalization.kind, opts),
  };
}

/**
 * The sample-efficiency curves of every game of the experiment (finished or not: training curves
 * exist before final scores), normalised as the aggregate is, on the learning curves' grid
 * stretched over all games.
 */
function experimentSampleEfficiency(
  exp: ExperimentOnDisk,
  kind: ScoreKind,
  opts: ComputeOptions,
): SampleEfficiency | null {
  const arms: ArmCurves[] = exp.manifest.arms.map(({ name: arm }) => ({
    arm,
    games: exp.manifest.envs.map(({ game, env }) => ({
      env,
      runs: exp.runs.filter((r) => r.run.game === game && r.run.arm === arm).map((r) => curveOf(r.metrics)),
    })),
  }));
  const grid = framesGrid(
    arms.flatMap((a) => a.games.flatMap((g) => g.runs)),
    opts.gridPoints,
  );
  // kind is human or minatar only where every game has its reference scores.
  const normalize = (env: string, score: number) => (kind === 'raw' ? score : (normalizedScore(env, score) as number));
  return sampleEfficiencyCurves(arms, grid, normalize, { reps: opts.reps, seed: opts.seed });
}
