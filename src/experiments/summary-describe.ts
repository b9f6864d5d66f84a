// The words of an A/B experiment's summary: the verdict sentences, which claim no more than the
// intervals allow (the claim itself is summary-compute.ts's judge()), what is missing and why, and
// notes on scores and normalisation. Also the number formatting the report shares.
import type { Interval } from '../stats/aggregate.js';
import type { RunVersions } from '../training/run.js';
import { judge, MIN_RUNS_FOR_VERDICT, type MissingCause, type SummaryStats } from './summary-compute.js';
import type { Comparison, ReportVersions, ScoreKind, Summary } from './summary-types.js';
import { SUMMARY_FORMAT } from './summary-types.js';

/** "1 run", "2 runs": the count with the right form of the noun. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------------------------
// Number formatting shared with the report

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

/** A plain-words verdict on judge()'s claim (see there for when a difference is significant). */
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

  const j = judge(v);
  let conclusion: string;
  if (j.tooFewRuns) {
    conclusion = `inconclusive: only ${runsWord} (no claim below ${MIN_RUNS_FOR_VERDICT})`;
  } else if (j.significant) {
    conclusion = `${b} ${j.direction} than ${a}, significant at the 95% level with ${runsWord} (both intervals exclude no difference)`;
  } else {
    conclusion = `not significant at ${runsWord}`;
    const diffExcl = j.diffUp || j.diffDown;
    const poiExcl = j.poiUp || j.poiDown;
    if (diffExcl && !poiExcl) conclusion += ` (the IQM difference excludes 0 but P(${b} > ${a}) does not exclude 0.5)`;
    else if (poiExcl && !diffExcl)
      conclusion += ` (P(${b} > ${a}) excludes 0.5 but the IQM difference does not exclude 0)`;
    else if (diffExcl && poiExcl) conclusion += ' (the two intervals point in opposite directions)';
  }
  let text = `${perGame}; ${numbers}: ${conclusion}.`;
  if (v.missing && v.total)
    text += ` Based on ${v.total - v.missing} of ${plural(v.total, 'run')}; ${v.missing} missing.`;
  return { significant: j.significant, direction: j.direction, text };
}

// ---------------------------------------------------------------------------------------------
// Notes

function missingDetail(c: MissingCause): string {
  switch (c.kind) {
    case 'failed':
      return c.error ?? 'failed';
    case 'not started':
      return 'not started';
    case 'not evaluated':
      return 'trained, not evaluated yet';
    case 'no training window':
      return 'finished without a training-window score';
    case 'training':
      return `trained ${c.steps.toLocaleString('en-US')}${c.budgetSteps ? ` of ${c.budgetSteps.toLocaleString('en-US')}` : ''} steps`;
  }
}

function normalizationNote(n: SummaryStats['normalization']): string {
  const mixNote = n.games > 1 ? ' (which mix the scales of different games: read them with care)' : '';
  const noRef = n.noReference;
  return n.kind === 'human'
    ? 'Aggregates use human-normalised scores: (score - random) / (human - random), with the standard Atari reference scores.'
    : n.kind === 'minatar'
      ? "Aggregates use reference-normalised scores: (score - random) / (reference - random), with uniformly random play and the MinAtar paper's DQN at 5M frames (read off its figure) as the references (docs/minatar.md)."
      : noRef.length
        ? `${noRef.join(', ')} ${noRef.length === 1 ? 'has' : 'have'} no ${n.noReferenceMinatar ? '' : 'human '}reference score, so aggregates use raw scores${mixNote}.`
        : `Atari and MinAtar games are normalised against different references, so aggregates use raw scores${mixNote}.`;
}

function scoresNote(source: Summary['scores']['source'], evalEpisodes: number): string {
  const evalNote = `the mean raw game score of ${plural(evalEpisodes, 'greedy evaluation episode')} per run (full games, no life-loss resets, no reward clipping), played from the final checkpoint; evaluation environments are seeded from the run seed, so paired runs of the two arms meet the same starts`;
  const windowNote =
    'the mean raw score of the last 100 training episodes (exploration on, the training window) at the end of training';
  return source === 'eval'
    ? `Final score = ${evalNote}.`
    : source === 'train-window'
      ? `Final score = ${windowNote}.`
      : source === 'mixed'
        ? `Final scores are mixed: some are ${evalNote}; others ${windowNote}. Compare with care.`
        : 'No run has a final score yet.';
}

/** The summary of summary-compute.ts's numbers, in words where words are due. */
export function describeSummary(s: SummaryStats, context: { createdAt: string; report: ReportVersions }): Summary {
  const { total, done } = s.progress;
  const missing = s.progress.missing.map(({ cause, ...run }) => ({ ...run, detail: missingDetail(cause) }));
  const excluded = s.excluded.map((e) => ({
    game: e.game,
    reason: `no final score yet for ${e.armsWithout.join(', ')}`,
  }));
  const scoreKind = s.normalization.kind;
  const comparisons: Comparison[] = s.comparisons.map((c) => ({
    ...c,
    verdict: verdict({ ...c, scoreKind, missing: missing.length, total }).text,
  }));
  const verdicts = comparisons.map((c) => c.verdict);
  if (!comparisons.length) {
    verdicts.push(
      `No verdict yet: no game has a final score for every arm (${done} of ${plural(total, 'run')} finished).`,
    );
  } else if (excluded.length) {
    verdicts.push(`Not in the aggregate yet: ${excluded.map((e) => `${e.game} (${e.reason})`).join('; ')}.`);
  }
  const codeWarning = mixedCodeWarning(s.runVersions);
  if (codeWarning) verdicts.push(codeWarning);
  const runs = s.runs.map(({ noEpisodeIn, versions, ...run }) => ({
    ...run,
    note:
      noEpisodeIn === null
        ? null
        : `no training episode finished in ${plural(noEpisodeIn, 'step')}, so there is no learning curve (a longer budget gives one)`,
    versions,
  }));
  const agg = s.aggregate;
  return {
    format: SUMMARY_FORMAT,
    version: 2,
    createdAt: context.createdAt,
    experiment: s.experiment,
    budget: s.budget,
    hyperparameters: s.hyperparameters,
    versions: { experiment: s.experimentVersion, report: context.report, runs: s.runVersions },
    runs,
    progress: { total, done, missing },
    scores: { source: s.source, note: scoresNote(s.source, s.experiment.evalEpisodes) },
    normalization: { kind: scoreKind, note: normalizationNote(s.normalization) },
    games: s.games,
    aggregate: agg ? { games: agg.games, excluded, arms: agg.arms, profile: agg.profile } : null,
    comparisons,
    configDiff: s.configDiff,
    verdicts,
    bootstrap: s.bootstrap,
    sampleEfficiency: s.sampleEfficiency,
  };
}

/** What identifies the code a run trained with: the git commit (and whether the tree was dirty), else dist/'s hash. */
export function codeLabel(v: RunVersions): string | null {
  const c = v.code;
  if (!c) return null;
  if (c.git)
    return `${c.git.commit.slice(0, 10)}${c.git.dirty ? ` (dirty, ${plural(c.git.changedFiles, 'changed file')})` : ''}`;
  return c.distSha256 ? `${c.version}, dist ${c.distSha256.slice(0, 10)}` : c.version;
}

/**
 * A warning when the runs trained with different code (commits, a dirty tree, or runs without a
 * record): the seeds of one arm are then not draws of one agent, and a verdict describes no
 * single version of the code.
 */
function mixedCodeWarning(groups: { versions: RunVersions; runs: string[] }[]): string | null {
  const byCode = new Map<string, string[]>();
  for (const g of groups) {
    const label = codeLabel(g.versions) ?? 'not recorded';
    byCode.set(label, [...(byCode.get(label) ?? []), ...g.runs]);
  }
  const dirty = groups.some((g) => g.versions.code?.git?.dirty);
  if (byCode.size <= 1 && !dirty) return null;
  const parts = [...byCode.entries()].map(([label, runs]) => `${label}: ${plural(runs.length, 'run')}`);
  return byCode.size > 1
    ? `Warning: the runs trained with ${byCode.size} different versions of the code (${parts.join('; ')}); a verdict should come from one version: rerun the others.`
    : `Warning: the runs trained from a checkout with uncommitted changes (${parts.join('; ')}); the exact code cannot be recovered from the commit alone.`;
}
