// `coordrl power`'s numbers: from an experiment's summary (its runs as pilot data), how many seeds
// per arm the tool's own decision rule needs to call (a) the observed IQM difference and (b) a
// difference the user names, significant with the chosen power; the smallest difference the
// experiment as it stands could detect; Colas et al.'s closed form as a cross-check; and the cost
// in training time at the measured median run time. src/stats/power.ts has the method.
import type { TaskScores } from '../stats/aggregate.js';
import { iqm, mean } from '../stats/aggregate.js';
import { MIN_RUNS_FOR_VERDICT } from '../stats/decision.js';
import { analyticSeeds, detectableEffect, type PowerPoint, type PowerRule, seedsNeeded } from '../stats/power.js';
import type { ScoreKind, Summary } from './summary.js';

/** Below this many runs per arm, the pilot's spread is a rough guide (Colas et al. 2018). */
export const PILOT_WARN_RUNS = 5;

export interface PowerOptions {
  /** Power the seeds must reach (default 0.8). */
  power?: number;
  /** The verdict's intervals are at level 1 - alpha (default 0.05: the 95% intervals). */
  alpha?: number;
  /** A difference to size for, in the aggregate's units (normalised score where the games have one). */
  effect?: number;
  /** The largest seeds per arm searched (default 50). */
  maxSeeds?: number;
  /** Simulated experiments per point (default 200) and bootstrap resamples in each (default 200). */
  sims?: number;
  reps?: number;
  seed?: number;
  /** Called as each point of a power curve is known (progress on long analyses). */
  onPoint?: (what: string, p: PowerPoint) => void;
}

export interface SeedsAnswer {
  /** The IQM difference (B - A) sized for. */
  effect: number;
  /** Seeds per arm with power >= target (null: not within maxSeeds). */
  seedsPerArm: number | null;
  curve: PowerPoint[];
  /** Training time of an experiment with that many seeds (all games and arms), seconds. */
  costSeconds: number | null;
}

export interface PowerComparison {
  a: string;
  b: string;
  games: string[];
  runsPerArm: { min: number; max: number };
  observed: SeedsAnswer | null;
  given: SeedsAnswer | null;
  /** The smallest |IQM difference| the experiment's own seeds detect with the target power. */
  detectable: { seedsPerArm: number; effect: number | null };
  /**
   * Cross-check: Welch's t-test on all runs pooled over games (Colas et al.), effect standardised
   * by the pooled standard deviation; analytic seeds per arm, one- and two-sided.
   */
  welch: { d: number; oneSided: number | null; twoSided: number | null };
}

export interface PowerReport {
  experiment: string;
  scoreKind: ScoreKind;
  target: number;
  alpha: number;
  maxSeeds: number;
  sims: number;
  reps: number;
  /** Median training wall time of the finished runs, seconds (null: none recorded). */
  medianRunSeconds: number | null;
  arms: number;
  comparisons: PowerComparison[];
  warnings: string[];
}

function medianOf(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pooledSd(a: number[], b: number[]): number {
  const ss = (v: number[]) => {
    const mu = mean(v);
    return v.reduce((s, e) => s + (e - mu) ** 2, 0);
  };
  return Math.sqrt((ss(a) + ss(b)) / (a.length + b.length - 2));
}

/** Power analysis of every comparison (baseline vs each other arm) of an experiment's summary. */
export function analyzePower(summary: Summary, opts: PowerOptions = {}): PowerReport {
  const target = opts.power ?? 0.8;
  const alpha = opts.alpha ?? 0.05;
  const maxSeeds = opts.maxSeeds ?? 50;
  const sims = opts.sims ?? 200;
  const reps = opts.reps ?? 200;
  const seed = opts.seed ?? 0;
  const rule: PowerRule = { kind: 'verdict', reps, level: 1 - alpha };
  const kind = summary.normalization.kind;
  const warnings: string[] = [];
  const agg = summary.aggregate;
  const arms = summary.experiment.arms.map((a) => a.name);
  const wall = summary.runs.filter((r) => r.status === 'done' && r.wallSeconds !== null);
  const medianRunSeconds = medianOf(wall.map((r) => r.wallSeconds as number));
  const report: PowerReport = {
    experiment: summary.experiment.dir,
    scoreKind: kind,
    target,
    alpha,
    maxSeeds,
    sims,
    reps,
    medianRunSeconds,
    arms: arms.length,
    comparisons: [],
    warnings,
  };
  if (!agg || agg.games.length === 0) {
    warnings.push('no game has a final score for every arm yet: nothing to analyse');
    return report;
  }
  const games = summary.games.filter((g) => agg.games.includes(g.game));
  const scoresOf = (arm: string): TaskScores =>
    games.map((g) =>
      (g.arms.find((x) => x.arm === arm)?.runs ?? []).map((r) => (kind === 'raw' ? r.score : (r.normalized as number))),
    );
  const cost = (n: number | null) =>
    n === null || medianRunSeconds === null ? null : n * games.length * arms.length * medianRunSeconds;
  const baseline = summary.experiment.baseline;
  for (const b of arms.filter((x) => x !== baseline)) {
    const A = scoresOf(baseline);
    const B = scoresOf(b);
    const ns = [...A, ...B].map((r) => r.length);
    const runsPerArm = { min: Math.min(...ns), max: Math.max(...ns) };
    if (runsPerArm.min < 2) {
      warnings.push(`${b} vs ${baseline}: a game has fewer than 2 runs in an arm; no spread to simulate from`);
      continue;
    }
    if (runsPerArm.min < PILOT_WARN_RUNS)
      warnings.push(
        `${b} vs ${baseline}: only ${runsPerArm.min} runs per arm in the pilot; with fewer than ${PILOT_WARN_RUNS} the spread (and so the seeds needed) is a rough estimate`,
      );
    const sim = { rule, sims, seed };
    const answer = (effect: number, label: string): SeedsAnswer => {
      const r = seedsNeeded(A, B, {
        ...sim,
        effect,
        target,
        maxSeeds,
        onPoint: (p) => opts.onPoint?.(`${b} vs ${baseline}, ${label}`, p),
      });
      return { effect, seedsPerArm: r.n, curve: r.curve, costSeconds: cost(r.n) };
    };
    const observedDiff = iqm(B.flat()) - iqm(A.flat());
    const observed = observedDiff !== 0 ? answer(observedDiff, 'observed difference') : null;
    const given = opts.effect !== undefined ? answer(opts.effect, `difference ${opts.effect}`) : null;
    const all = [...A.flat(), ...B.flat()];
    const span = Math.max(...all) - Math.min(...all) || 1;
    const current = Math.max(MIN_RUNS_FOR_VERDICT, runsPerArm.min);
    const detectable = {
      seedsPerArm: current,
      effect: detectableEffect(A, B, {
        ...sim,
        n: current,
        target,
        maxEffect: 2 * span,
        direction: observedDiff < 0 ? -1 : 1,
        steps: 8,
      }),
    };
    const d = (mean(B.flat()) - mean(A.flat())) / pooledSd(A.flat(), B.flat());
    const welch = {
      d,
      oneSided: analyticSeeds(d, { power: target, alpha, sided: 'one-sided', maxSeeds: 100_000 }),
      twoSided: analyticSeeds(d, { power: target, alpha, sided: 'two-sided', maxSeeds: 100_000 }),
    };
    report.comparisons.push({
      a: baseline,
      b,
      games: games.map((g) => g.game),
      runsPerArm,
      observed,
      given,
      detectable,
      welch,
    });
  }
  return report;
}

function hours(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.round(seconds / 60)} min`;
}

/** The report in words, for the terminal. */
export function describePower(r: PowerReport): string {
  const unit =
    r.scoreKind === 'raw' ? 'raw score' : r.scoreKind === 'human' ? 'human-normalised' : 'reference-normalised';
  const lines = [
    `Power analysis of ${r.experiment} (the tool's own rule: 95% intervals of the IQM difference and P(B > A) both exclude no difference; ${r.sims} simulated experiments per point, ${r.reps} bootstrap resamples each; power ${r.target})`,
  ];
  const answerLine = (label: string, s: SeedsAnswer) => {
    const seeds =
      s.seedsPerArm === null
        ? `more than ${r.maxSeeds} seeds per arm (--max-seeds)`
        : `${s.seedsPerArm} seeds per arm${s.costSeconds !== null ? `, about ${hours(s.costSeconds)} of training time here (${s.seedsPerArm} x ${r.comparisons[0]?.games.length ?? 0} games x ${r.arms} arms x ${hours(r.medianRunSeconds ?? 0)} median run)` : ''}`;
    return `  ${label} (${s.effect >= 0 ? '+' : ''}${s.effect.toFixed(3)} ${unit}): ${seeds}`;
  };
  for (const c of r.comparisons) {
    const runs =
      c.runsPerArm.min === c.runsPerArm.max ? `${c.runsPerArm.min}` : `${c.runsPerArm.min}-${c.runsPerArm.max}`;
    lines.push(`${c.b} vs ${c.a}, ${c.games.length} games, ${runs} runs per arm:`);
    if (c.observed) lines.push(answerLine('to call the observed IQM difference', c.observed));
    if (c.given) lines.push(answerLine('to call the given difference', c.given));
    lines.push(
      c.detectable.effect === null
        ? `  with ${c.detectable.seedsPerArm} seeds per arm no difference within twice the score range is detected with power ${r.target}`
        : `  smallest IQM difference ${c.detectable.seedsPerArm} seeds per arm detect with power ${r.target}: ${Math.abs(c.detectable.effect).toFixed(3)} ${unit}`,
    );
    const fmtSeeds = (n: number | null) => (n === null ? '-' : String(n));
    lines.push(
      `  cross-check, Welch's t-test on the pooled runs (Colas et al. 2018): d = ${c.welch.d.toFixed(2)}, ${fmtSeeds(c.welch.oneSided)} seeds per arm one-sided, ${fmtSeeds(c.welch.twoSided)} two-sided`,
    );
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
