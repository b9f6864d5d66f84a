// The numbers of an A/B experiment, from what is on disk (finished or not): final scores per game
// and arm, learning curves with bootstrap bands, aggregate IQM / mean / median over games with 95%
// stratified bootstrap intervals, probability of improvement, performance profiles, and a verdict
// in plain words that claims no more than the intervals allow. Statistics come from src/stats.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { frameSkipFor } from '../config.js';
import type { RunConfig } from '../run-config.js';
import {
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  differenceCI,
  type Interval,
  mean,
  median,
  percentileSorted,
  performanceProfileCI,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
  type TaskScores,
} from '../stats/aggregate.js';
import { referenceScores } from '../stats/atari-scores.js';
import { minatarGame } from '../stats/minatar-scores.js';
import { normalizationOf, normalizedScore } from '../stats/reference-scores.js';
import { readMetrics } from '../training/metrics.js';
import { defaultBudget, RUN_VERSIONS_FILE, type RunFile, type RunVersions } from '../training/run.js';
import { Rng } from '../util/rng.js';
import { PACKAGE_VERSION } from '../version.js';
import { type Arm, configDiff } from './arms.js';
import {
  type FinalFile,
  type ManifestRun,
  readFinal,
  readManifest,
  readRunConfigFile,
  type ScoreSource,
} from './manifest.js';

export const SUMMARY_FORMAT = 'coordrl-ab-summary';
/** Runs per arm below which no verdict is drawn at all. */
export const MIN_RUNS_FOR_VERDICT = 3;

export interface RunScore {
  seed: number;
  score: number;
  /** Normalised score: human for Atari, reference for MinAtar (null where the game has no reference scores). */
  normalized: number | null;
  source: ScoreSource;
}

export interface ArmGameScores {
  arm: string;
  /** Runs with a final score. */
  n: number;
  /** Runs planned. */
  planned: number;
  runs: RunScore[];
  mean: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
}

export interface CurvePoint {
  frames: number;
  mean: number;
  lo: number;
  hi: number;
  /** Runs whose logged curve covers this point. */
  n: number;
}

export interface GameComparison {
  a: string;
  b: string;
  /** mean(B) - mean(A) of raw final scores, 95% bootstrap interval (null unless both arms have runs). */
  meanDiff: Interval | null;
  /** Which arm has the higher mean final score (not a significance claim). */
  higher: 'a' | 'b' | 'tie' | null;
}

/** One run's own learning curve (training score against frames), at most RUN_CURVE_POINTS points. */
export interface RunCurve {
  arm: string;
  seed: number;
  points: { frames: number; score: number }[];
}

export interface GameSummary {
  game: string;
  env: string;
  reference: { random: number; human: number } | null;
  arms: ArmGameScores[];
  curves: { arm: string; points: CurvePoint[] }[];
  runCurves: RunCurve[];
  comparisons: GameComparison[];
}

/** rliable's aggregates of one arm: IQM over all runs; mean and median of the per-game means. */
export interface ArmAggregate {
  arm: string;
  runs: number;
  iqm: Interval;
  mean: Interval;
  median: Interval;
}

export interface Comparison {
  a: string;
  b: string;
  games: number;
  gamesBetter: number;
  gamesWorse: number;
  gamesTied: number;
  runsPerArm: { min: number; max: number };
  /** IQM(B) - IQM(A), each over all runs of the included games (rliable's aggregate_iqm). */
  iqmDiff: Interval;
  /** mean(B) - mean(A), each the mean of the per-game mean scores (rliable's aggregate_mean). */
  meanDiff: Interval;
  /** P(B > A): probability that a run of B beats a run of A on the same game, averaged over games. */
  poi: Interval;
  significant: boolean;
  direction: 'better' | 'worse' | null;
  verdict: string;
}

export interface MissingRun {
  id: string;
  game: string;
  arm: string;
  seed: number;
  status: string;
  detail: string;
}

/** What a reviewer needs to know about each run: how far it got, how fast, and how it ended. */
export interface RunRecord {
  id: string;
  game: string;
  env: string;
  arm: string;
  seed: number;
  /** done (final score), trained (not evaluated), running, partial, failed, not started. */
  status: string;
  budgetSteps: number;
  budgetFrames: number;
  /** Agent steps and frames reached, as last logged (null: nothing logged yet). */
  steps: number | null;
  frames: number | null;
  /** Training wall time in seconds, summed over resumes (null: nothing logged yet). */
  wallSeconds: number | null;
  /** Average agent steps per second of training (steps / wall time). */
  stepsPerSecond: number | null;
  /** Training episodes finished. */
  episodes: number | null;
  /** Points of the run's learning curve (records with a training score). */
  curvePoints: number;
  finalScore: number | null;
  /** Something a reader should know, e.g. that no training episode finished. */
  note: string | null;
  versions: RunVersions | null;
}

/** Software versions: of the machine that made the summary, and of the runs as they recorded them. */
export interface SummaryVersions {
  /** coordrl version that created the experiment. */
  experiment: string;
  report: ReportVersions;
  /** Distinct versions the runs trained with (versions.json of each run), with their run ids. */
  runs: { versions: RunVersions; runs: string[] }[];
}

export interface ReportVersions {
  coordrl: string;
  node: string;
  tfjs?: string;
  tensorflow?: string | null;
  /** Python packages of the env server (python-bridge venv), where that Python could be asked. */
  python?: Record<string, string> | null;
}

export interface Summary {
  format: typeof SUMMARY_FORMAT;
  version: 2;
  createdAt: string;
  experiment: {
    dir: string;
    algo: string;
    games: { game: string; env: string }[];
    arms: Arm[];
    baseline: string;
    seeds: number[];
    evalEpisodes: number;
    /** The command line that made the experiment (`coordrl` arguments). */
    command: string[];
  };
  /** Training budget per run. steps/frames: the same for every run, else null (see byGame). */
  budget: {
    steps: number | null;
    frames: number | null;
    byGame: { game: string; steps: number; frames: number; frameSkip: number }[];
  };
  /** Resolved run configuration (env and seed aside): what all arms share, and what differs. */
  hyperparameters: { shared: Record<string, unknown> };
  versions: SummaryVersions;
  runs: RunRecord[];
  progress: { total: number; done: number; missing: MissingRun[] };
  scores: { source: ScoreSource | 'mixed' | 'none'; note: string };
  normalization: { kind: ScoreKind; note: string };
  games: GameSummary[];
  aggregate: {
    games: string[];
    excluded: { game: string; reason: string }[];
    arms: ArmAggregate[];
    profile: { taus: number[]; arms: { arm: string; points: Interval[] }[] };
  } | null;
  comparisons: Comparison[];
  configDiff: { field: string; values: Record<string, unknown> }[];
  verdicts: string[];
  bootstrap: { reps: number; level: number; seed: number };
}

export interface SummaryOptions {
  /** Bootstrap resamples (default 2000; curves and profiles use at most 1000). */
  reps?: number;
  seed?: number;
  /** Points of the common frames grid of the learning curves (default 50). */
  gridPoints?: number;
  /** Versions of the machine making the summary (default: coordrl and Node only). */
  versions?: ReportVersions;
  /**
   * Which score of a finished run the statistics use: `final` (default), the score the run was
   * finished with (greedy evaluation when the experiment evaluates); `train`, the mean of its last 100
   * training episodes at the end of training (the policy as it explores: A2C's sampled actions,
   * DQN's epsilon-greedy), recorded beside every final score.
   */
  score?: 'final' | 'train';
}

/** "1 run", "2 runs": the count with the right form of the noun. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------------------------
// Number formatting shared with the report

/**
 * What the aggregates are computed on: human-normalised scores (Atari), reference-normalised ones
 * (MinAtar: random play = 0, the MinAtar paper's DQN at 5M frames = 1, src/stats/minatar-scores.ts), or raw.
 */
export type ScoreKind = 'human' | 'minatar' | 'raw';

/** The kind of score in words: "human-normalised score", or with `short` "human-normalised". */
export function scoreUnit(kind: ScoreKind, short = false): string {
  const name = kind === 'human' ? 'human-normalised' : kind === 'minatar' ? 'reference-normalised' : 'raw';
  return short ? name : `${name} score`;
}

/** Decimals that suit a value's magnitude: 2 for normalised scores and small raw ones. */
export function decimalsFor(values: number[], kind: ScoreKind): number {
  if (kind !== 'raw') return 2;
  const m = Math.max(...values.filter(Number.isFinite).map(Math.abs), 0);
  return m >= 100 ? 0 : m >= 10 ? 1 : 2;
}

export function fmt(x: number, decimals: number, signed = false): string {
  const s = x.toFixed(decimals);
  const neg = /^-0\.?0*$/.test(s) ? s.slice(1) : s; // no "-0.00"
  return signed && !neg.startsWith('-') ? `+${neg}` : neg;
}

export function fmtInterval(i: Interval, decimals: number, signed = false): string {
  return `${fmt(i.estimate, decimals, signed)} [${fmt(i.lo, decimals)}, ${fmt(i.hi, decimals)}]`;
}

// ---------------------------------------------------------------------------------------------
// Verdict

/** What the verdict reads: the comparison's counts and intervals, plus the experiment's context. */
export interface VerdictInput
  extends Pick<
    Comparison,
    'a' | 'b' | 'games' | 'gamesBetter' | 'gamesWorse' | 'gamesTied' | 'runsPerArm' | 'iqmDiff' | 'poi'
  > {
  scoreKind: ScoreKind;
  /** Runs of the experiment without a final score, and all runs. */
  missing?: number;
  total?: number;
}

/**
 * A plain-words verdict. Significant only if the IQM-difference interval excludes 0 and the
 * P(B > A) interval excludes 0.5, on the same side, with at least MIN_RUNS_FOR_VERDICT runs.
 */
export function verdict(v: VerdictInput): { significant: boolean; direction: 'better' | 'worse' | null; text: string } {
  const { a, b } = v;
  const runs =
    v.runsPerArm.min === v.runsPerArm.max ? `${v.runsPerArm.min}` : `${v.runsPerArm.min}-${v.runsPerArm.max}`;
  const runsWord = `${runs} run${runs === '1' ? '' : 's'} per arm`;
  const gamesWord = `${v.games} game${v.games === 1 ? '' : 's'}`;
  let perGame = `${b} better than ${a} on ${v.gamesBetter} of ${gamesWord}`;
  if (v.gamesWorse) perGame += `, worse on ${v.gamesWorse}`;
  if (v.gamesTied) perGame += `, tied on ${v.gamesTied}`;
  perGame += ' (by mean final score)';
  const d = decimalsFor([v.iqmDiff.estimate, v.iqmDiff.lo, v.iqmDiff.hi], v.scoreKind);
  const unit = scoreUnit(v.scoreKind);
  const numbers = `aggregate IQM difference (${b} - ${a}) ${fmtInterval(v.iqmDiff, d, true)} in ${unit}, P(${b} > ${a}) = ${fmtInterval(v.poi, 2)}`;

  const diffUp = v.iqmDiff.lo > 0;
  const diffDown = v.iqmDiff.hi < 0;
  const poiUp = v.poi.lo > 0.5;
  const poiDown = v.poi.hi < 0.5;
  let significant = false;
  let direction: 'better' | 'worse' | null = null;
  let conclusion: string;
  if (v.runsPerArm.min < MIN_RUNS_FOR_VERDICT) {
    conclusion = `inconclusive: only ${runsWord} (no claim below ${MIN_RUNS_FOR_VERDICT})`;
  } else if ((diffUp && poiUp) || (diffDown && poiDown)) {
    significant = true;
    direction = diffUp ? 'better' : 'worse';
    conclusion = `${b} ${direction} than ${a}, significant at the 95% level with ${runsWord} (both intervals exclude no difference)`;
  } else {
    conclusion = `not significant at ${runsWord}`;
    const diffExcl = diffUp || diffDown;
    const poiExcl = poiUp || poiDown;
    if (diffExcl && !poiExcl) conclusion += ` (the IQM difference excludes 0 but P(${b} > ${a}) does not exclude 0.5)`;
    else if (poiExcl && !diffExcl)
      conclusion += ` (P(${b} > ${a}) excludes 0.5 but the IQM difference does not exclude 0)`;
    else if (diffExcl && poiExcl) conclusion += ' (the two intervals point in opposite directions)';
  }
  let text = `${perGame}; ${numbers}: ${conclusion}.`;
  if (v.missing && v.total)
    text += ` Based on ${v.total - v.missing} of ${plural(v.total, 'run')}; ${v.missing} missing.`;
  return { significant, direction, text };
}

// ---------------------------------------------------------------------------------------------
// Learning curves

interface CurveData {
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

/** Points kept of each run's own curve in the summary (evenly thinned, the last one always kept). */
export const RUN_CURVE_POINTS = 200;

function thin(c: CurveData, n: number): { frames: number; score: number }[] {
  const len = c.frames.length;
  const idx = len <= n ? [...Array(len).keys()] : [...new Set(linspace(0, len - 1, n).map(Math.round))];
  return idx.map((i) => ({ frames: c.frames[i], score: c.score[i] }));
}

function readJson<T>(file: string): T | null {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  } catch {
    return null;
  }
}

function readCurve(runDir: string): CurveData {
  const frames: number[] = [];
  const score: number[] = [];
  for (const r of readMetrics(path.join(runDir, 'metrics.jsonl'))) {
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

// ---------------------------------------------------------------------------------------------
// The summary

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

function describeMissing(expDir: string, run: ManifestRun): MissingRun {
  const runDir = path.join(expDir, run.dir);
  const base = { id: run.id, game: run.game, arm: run.arm, seed: run.seed };
  if (run.status === 'failed') return { ...base, status: 'failed', detail: run.error ?? 'failed' };
  if (!existsSync(path.join(runDir, 'config.json'))) return { ...base, status: 'not started', detail: 'not started' };
  let budget: number | null = null;
  try {
    budget =
      (JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { budgetSteps?: number }).budgetSteps ??
      null;
  } catch {
    // leave the budget unknown
  }
  if (run.status === 'trained') return { ...base, status: 'not evaluated', detail: 'trained, not evaluated yet' };
  const last = readMetrics(path.join(runDir, 'metrics.jsonl')).at(-1);
  const steps = Math.max(last?.step ?? 0, run.steps ?? 0);
  return {
    ...base,
    status: run.status === 'running' ? 'running' : 'partial',
    detail: `trained ${steps.toLocaleString('en-US')}${budget ? ` of ${budget.toLocaleString('en-US')}` : ''} steps`,
  };
}

/** The score of a finished run that the summary uses (null: the run has no such score). */
function pickScore(f: FinalFile, which: 'final' | 'train'): { score: number; source: ScoreSource } | null {
  if (which === 'final' || f.source === 'train-window') return { score: f.score, source: f.source };
  const t = f.trainScore;
  return typeof t === 'number' && Number.isFinite(t) ? { score: t, source: 'train-window' } : null;
}

export function summarizeExperiment(expDir: string, opts: SummaryOptions = {}): Summary {
  const reps = opts.reps ?? 2000;
  const seed = opts.seed ?? 0;
  const curveReps = Math.min(reps, 1000);
  const gridPoints = opts.gridPoints ?? 50;
  const m = readManifest(expDir);
  const armNames = m.arms.map((a) => a.name);
  const baseline = armNames[0];

  // Final scores and curves, run by run.
  const finals = new Map<string, RunScore>();
  const missing: MissingRun[] = [];
  const sources = new Set<ScoreSource>();
  for (const run of m.runs) {
    const f = readFinal(path.join(expDir, run.dir));
    const picked = f ? pickScore(f, opts.score ?? 'final') : null;
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
      missing.push({ ...base, status: 'partial', detail: 'finished without a training-window score' });
    } else missing.push(describeMissing(expDir, run));
  }

  // Atari games are human-normalised, MinAtar games reference-normalised (src/stats/minatar-scores.ts);
  // games without reference scores, and experiments mixing the two families, use raw scores.
  const kinds = m.envs.map((e) => normalizationOf(e.env));
  const kind: ScoreKind = kinds.every((k) => k === 'human')
    ? 'human'
    : kinds.every((k) => k === 'minatar')
      ? 'minatar'
      : 'raw';
  const noRef = m.envs.filter((_e, i) => kinds[i] === null).map((e) => e.env);
  const mixNote = m.envs.length > 1 ? ' (which mix the scales of different games: read them with care)' : '';
  const normalization = {
    kind,
    note:
      kind === 'human'
        ? 'Aggregates use human-normalised scores: (score - random) / (human - random), with the standard Atari reference scores.'
        : kind === 'minatar'
          ? "Aggregates use reference-normalised scores: (score - random) / (reference - random), with uniformly random play and the MinAtar paper's DQN at 5M frames (read off its figure) as the references (docs/minatar.md)."
          : noRef.length
            ? `${noRef.join(', ')} ${noRef.length === 1 ? 'has' : 'have'} no ${noRef.some((e) => minatarGame(e) !== null) ? '' : 'human '}reference score, so aggregates use raw scores${mixNote}.`
            : `Atari and MinAtar games are normalised against different references, so aggregates use raw scores${mixNote}.`,
  };
  const scoreOf = (r: RunScore) => (kind === 'raw' ? r.score : (r.normalized as number));

  const games: GameSummary[] = m.envs.map(({ env, game }, gi) => {
    const runsOf = (arm: string) => m.runs.filter((r) => r.game === game && r.arm === arm);
    const arms: ArmGameScores[] = armNames.map((arm) => {
      const planned = runsOf(arm);
      const rs = planned.map((r) => finals.get(r.id)).filter((r): r is RunScore => r !== undefined);
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
    const curveData = new Map(
      armNames.map((arm) => [arm, runsOf(arm).map((r) => readCurve(path.join(expDir, r.dir)))]),
    );
    const maxFrames = Math.max(0, ...[...curveData.values()].flat().map((c) => c.frames.at(-1) ?? 0));
    const grid = maxFrames > 0 ? linspace(0, maxFrames, gridPoints) : [];
    // Each grid must also hold every run's last point, so a short curve does not vanish.
    const curves = armNames.map((arm, ai) => {
      const cs = (curveData.get(arm) ?? []).filter((c) => c.frames.length);
      const own = [...new Set([...grid, ...cs.map((c) => c.frames.at(-1) as number)])].sort((p, q) => p - q);
      return { arm, points: meanCurve(cs, own, curveReps, seed + 1000 * gi + ai) };
    });
    const comparisons: GameComparison[] = armNames.slice(1).map((b, bi) => {
      const A = arms[0];
      const B = arms[bi + 1];
      if (!A.n || !B.n) return { a: baseline, b, meanDiff: null, higher: null };
      const meanDiff = differenceCI([A.runs.map((r) => r.score)], [B.runs.map((r) => r.score)], aggregateMean, {
        reps,
        seed: seed + 7 * gi + bi,
      });
      const higher =
        (B.mean as number) > (A.mean as number) ? 'b' : (B.mean as number) < (A.mean as number) ? 'a' : 'tie';
      return { a: baseline, b, meanDiff, higher };
    });
    const runCurves: RunCurve[] = armNames.flatMap((arm) =>
      runsOf(arm).map((r, i) => ({ arm, seed: r.seed, points: thin((curveData.get(arm) ?? [])[i], RUN_CURVE_POINTS) })),
    );
    return { game, env, reference: referenceScores(env), arms, curves, runCurves, comparisons };
  });

  // Aggregates over the games where every arm has at least one final score.
  const included = games.filter((g) => g.arms.every((a) => a.n > 0));
  const excluded = games
    .filter((g) => !included.includes(g))
    .map((g) => ({
      game: g.game,
      reason: `no final score yet for ${g.arms
        .filter((a) => a.n === 0)
        .map((a) => a.arm)
        .join(', ')}`,
    }));
  let aggregate: Summary['aggregate'] = null;
  const comparisons: Comparison[] = [];
  if (included.length) {
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
    aggregate = {
      games: included.map((g) => g.game),
      excluded,
      arms: perArm,
      profile: {
        taus,
        arms: armNames.map((arm, i) => ({
          arm,
          points: performanceProfileCI(task(arm), taus, { reps: curveReps, seed: seed + 200 + i }),
        })),
      },
    };
    const A = task(baseline);
    armNames.slice(1).forEach((b, bi) => {
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
      const v = verdict({ ...base, scoreKind: kind, missing: missing.length, total: m.runs.length });
      comparisons.push({ ...base, significant: v.significant, direction: v.direction, verdict: v.text });
    });
  }

  const verdicts = comparisons.map((c) => c.verdict);
  if (!comparisons.length) {
    verdicts.push(
      `No verdict yet: no game has a final score for every arm (${m.runs.length - missing.length} of ${plural(m.runs.length, 'run')} finished).`,
    );
  } else if (excluded.length) {
    verdicts.push(`Not in the aggregate yet: ${excluded.map((e) => `${e.game} (${e.reason})`).join('; ')}.`);
  }

  const source: Summary['scores']['source'] =
    sources.size === 0 ? 'none' : sources.size > 1 ? 'mixed' : [...sources][0];
  const evalNote = `the mean raw game score of ${plural(m.evalEpisodes, 'greedy evaluation episode')} per run (full games, no life-loss resets, no reward clipping), played from the final checkpoint; evaluation environments are seeded from the run seed, so paired runs of the two arms meet the same starts`;
  const windowNote =
    'the mean raw score of the last 100 training episodes (exploration on, the training window) at the end of training';
  const scoresNote =
    source === 'eval'
      ? `Final score = ${evalNote}.`
      : source === 'train-window'
        ? `Final score = ${windowNote}.`
        : source === 'mixed'
          ? `Final scores are mixed: some are ${evalNote}; others ${windowNote}. Compare with care.`
          : 'No run has a final score yet.';

  // Config differences between arms, on the first game (env and seed excluded).
  const firstGame = m.envs[0]?.game;
  const diffConfigs = armNames
    .map((arm) => {
      const run = m.runs.find((r) => r.game === firstGame && r.arm === arm);
      return run ? { arm, config: readRunConfigFile(expDir, run) } : null;
    })
    .filter((c): c is NonNullable<typeof c> => c !== null);

  // Every run as it stands: budget, how far it got, how fast, how it ended.
  const runs: RunRecord[] = m.runs.map((run) => {
    const runDir = path.join(expDir, run.dir);
    const file = readJson<RunFile>(path.join(runDir, 'config.json'));
    const frameSkip = file?.frameSkip ?? frameSkipFor(run.env);
    const budgetSteps = file?.budgetSteps ?? run.budgetSteps ?? defaultBudget(readRunConfigFile(expDir, run));
    const records = readMetrics(path.join(runDir, 'metrics.jsonl'));
    const last = records.at(-1);
    const final = finals.get(run.id);
    const miss = missing.find((x) => x.id === run.id);
    const curvePoints = records.filter((r) => typeof r.score === 'number' && Number.isFinite(r.score)).length;
    const wall = last && Number.isFinite(last.time) ? last.time : null;
    const episodes = last && Number.isFinite(last.episodes) ? last.episodes : null;
    let note: string | null = null;
    if (last && !episodes) {
      note = `no training episode finished in ${plural(last.step, 'step')}, so there is no learning curve (a longer budget gives one)`;
    }
    return {
      id: run.id,
      game: run.game,
      env: run.env,
      arm: run.arm,
      seed: run.seed,
      status: final ? 'done' : (miss?.status ?? run.status),
      budgetSteps,
      budgetFrames: budgetSteps * frameSkip,
      steps: last?.step ?? null,
      frames: last?.frames ?? null,
      wallSeconds: wall,
      stepsPerSecond: last && wall ? last.step / wall : null,
      episodes,
      curvePoints,
      finalScore: final?.score ?? null,
      note,
      versions: readJson<RunVersions>(path.join(runDir, RUN_VERSIONS_FILE)),
    };
  });
  const byGame = m.envs.map(({ game, env }) => {
    const r = runs.find((x) => x.game === game) as RunRecord;
    return { game, steps: r.budgetSteps, frames: r.budgetFrames, frameSkip: frameSkipFor(env) };
  });
  const one = (xs: number[]) => (new Set(xs).size === 1 ? xs[0] : null);
  const budget = {
    steps: one(runs.map((r) => r.budgetSteps)),
    frames: one(runs.map((r) => r.budgetFrames)),
    byGame,
  };
  const versionGroups = new Map<string, { versions: RunVersions; runs: string[] }>();
  for (const r of runs) {
    if (!r.versions) continue;
    const key = JSON.stringify(r.versions);
    const g = versionGroups.get(key) ?? { versions: r.versions, runs: [] };
    g.runs.push(r.id);
    versionGroups.set(key, g);
  }

  return {
    format: SUMMARY_FORMAT,
    version: 2,
    createdAt: new Date().toISOString(),
    experiment: {
      dir: path.resolve(expDir),
      algo: m.algo,
      games: m.envs,
      arms: m.arms,
      baseline,
      seeds: m.seeds,
      evalEpisodes: m.evalEpisodes,
      command: m.command,
    },
    budget,
    hyperparameters: { shared: sharedConfig(diffConfigs) },
    versions: {
      experiment: m.coordrl,
      report: opts.versions ?? { coordrl: PACKAGE_VERSION, node: process.versions.node },
      runs: [...versionGroups.values()],
    },
    runs,
    progress: { total: m.runs.length, done: m.runs.length - missing.length, missing },
    scores: { source, note: scoresNote },
    normalization,
    games,
    aggregate,
    comparisons,
    configDiff: configDiff(diffConfigs),
    verdicts,
    bootstrap: { reps, level: 0.95, seed },
  };
}
