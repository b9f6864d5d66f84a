// The shape of an A/B experiment's summary (summary.json): what load -> compute -> describe
// (summary-load.ts, summary-compute.ts, summary-describe.ts) produce, and what the report reads.
import type { Interval } from '../stats/aggregate.js';
import type { RunVersions } from '../training/run.js';
import type { Arm } from './arms.js';
import type { ScoreSource } from './manifest.js';

export const SUMMARY_FORMAT = 'coordrl-ab-summary';

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
  /**
   * P(B > A) on this game: the Mann-Whitney U of B's final scores over A's divided by n_a n_b (ties
   * count one half; rliable's per-task probability of improvement), with a 95% bootstrap interval
   * resampling each arm's runs independently (null unless both arms have runs).
   */
  poi: Interval | null;
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

/**
 * Sample-efficiency curves (Agarwal et al. 2021; rliable's plot_sample_efficiency_curve): per arm the
 * aggregate IQM of normalised training scores at points of a common frames grid, with 95%
 * stratified bootstrap intervals, and the IQM difference B - A with its interval.
 */
export interface SampleEfficiency {
  /**
   * Frames of the points: the points of the common frames grid (0 to the largest logged frame
   * count of any run, gridPoints points) where every game has a logged curve of at least one run
   * of every arm. `points` and `runs` below are aligned with it.
   */
  grid: number[];
  /** Per arm: IQM over all covering runs of all games, and how many runs cover each point. */
  arms: { arm: string; points: Interval[]; runs: number[] }[];
  /** Per arm against the baseline: IQM(B) - IQM(A), each arm resampled independently. */
  differences: { a: string; b: string; points: Interval[] }[];
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
  /** Null where no point of the grid has a curve of every arm on every game (e.g. nothing logged yet). */
  sampleEfficiency: SampleEfficiency | null;
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

/**
 * What the aggregates are computed on: human-normalised scores (Atari), reference-normalised ones
 * (MinAtar: random play = 0, the MinAtar paper's DQN at 5M frames = 1, src/stats/minatar-scores.ts), or raw.
 */
export type ScoreKind = 'human' | 'minatar' | 'raw';
