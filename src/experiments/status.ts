// `coordrl ab --status`: the state of every run of an experiment in the words of its executor. A
// local experiment has no Slurm queue: its runs are done, running (a live process holds the run),
// stopped (checkpoints, nobody training) or not started, and the advice is about `coordrl ab`, not
// about resubmitting to Slurm. Running runs get their progress and an ETA from their metrics.
import path from 'node:path';
import { readMetrics } from '../training/metrics.js';
import { defaultBudget } from '../training/run.js';
import { type LockRecord, lockState } from '../util/dir-lock.js';
import { readManifest, readRunConfigFile } from './manifest.js';
import { type ExperimentSlurmStatus, RUN_PHASES, type RunSlurmStatus } from './slurm-executor.js';

export const LOCAL_STATES = ['done', 'running', 'stopped', 'not started', 'failed'] as const;
export type LocalRunState = (typeof LOCAL_STATES)[number];

export interface LocalRunStatus {
  id: string;
  state: LocalRunState;
  /** Agent steps reached (the newest metrics record, else the newest checkpoint) and the budget. */
  steps: number;
  budgetSteps: number | null;
  finalScore: number | null;
  /** Average agent steps per second so far, and the seconds left at that rate (running runs). */
  stepsPerSecond: number | null;
  etaSeconds: number | null;
  detail: string | null;
}

export interface LocalExperimentStatus {
  experiment: string;
  executor: 'local';
  counts: Record<LocalRunState, number>;
  runs: LocalRunStatus[];
  /** The `coordrl ab` process running the experiment now, if one is. */
  activeAb: LockRecord | null;
}

function localState(r: RunSlurmStatus, failed: boolean): LocalRunState {
  if (r.state === 'done' || r.state === 'running') return r.state;
  // The manifest says how a local run last ended (the runner records a failure with its error).
  if (failed) return 'failed';
  return r.steps > 0 ? 'stopped' : 'not started';
}

/** The Slurm-shaped status of a local experiment (no submissions) in local terms. */
export function localStatus(st: ExperimentSlurmStatus, expDir: string): LocalExperimentStatus {
  const manifest = new Map(readManifest(expDir).runs.map((r) => [r.id, r]));
  const runs = st.runs.map((r): LocalRunStatus => {
    const entry = manifest.get(r.id);
    const state = localState(r, entry?.status === 'failed');
    const last =
      state === 'running' ? readMetrics(path.join(expDir, entry?.dir ?? r.id, 'metrics.jsonl')).at(-1) : undefined;
    const steps = Math.max(r.steps, last?.step ?? 0);
    // A run not started yet has no config.json: its budget is that of the experiment's config for it.
    const budget = r.budgetSteps ?? (entry ? defaultBudget(readRunConfigFile(expDir, entry)) : null);
    const rate = last && last.time > 0 ? last.step / last.time : null;
    const eta = rate && budget !== null ? Math.max(0, (budget - steps) / rate) : null;
    return {
      id: r.id,
      state,
      steps,
      budgetSteps: budget,
      finalScore: r.finalScore,
      stepsPerSecond: rate,
      etaSeconds: eta,
      detail: state === 'failed' ? (entry?.error ?? null) : state === 'stopped' ? null : r.detail,
    };
  });
  const counts = Object.fromEntries(LOCAL_STATES.map((s) => [s, runs.filter((r) => r.state === s).length])) as Record<
    LocalRunState,
    number
  >;
  const lock = lockState(expDir);
  return {
    experiment: st.experiment,
    executor: 'local',
    counts,
    runs,
    activeAb: lock && !lock.stale ? lock.holder : null,
  };
}

function duration(s: number): string {
  if (s >= 3600) return `${(s / 3600).toFixed(1)} h`;
  if (s >= 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s)} s`;
}

export function describeLocalStatus(st: LocalExperimentStatus): string {
  const counts = LOCAL_STATES.filter((s) => st.counts[s] > 0).map((s) => `${st.counts[s]} ${s}`);
  const head = `${st.experiment} (local): ${st.runs.length} runs: ${counts.join(', ')}`;
  const width = Math.max(...st.runs.map((r) => r.id.length));
  const lines = st.runs.map((r) =>
    [
      `  ${r.id.padEnd(width)}  ${r.state.padEnd(11)}`,
      `${r.steps}/${r.budgetSteps ?? '?'} steps`,
      r.finalScore !== null ? `score ${r.finalScore.toFixed(2)}` : '',
      r.stepsPerSecond !== null ? `${Math.round(r.stepsPerSecond)} steps/s` : '',
      r.etaSeconds !== null ? `ETA ${duration(r.etaSeconds)}` : '',
      r.detail ?? '',
    ]
      .filter(Boolean)
      .join('  '),
  );
  const idle = st.runs.length - st.counts.done - st.counts.running;
  const next =
    st.counts.done === st.runs.length
      ? `every run is done: coordrl report ${st.experiment}`
      : st.activeAb
        ? `pid ${st.activeAb.pid} on host ${st.activeAb.host} has been running it since ${st.activeAb.startedAt} (${st.activeAb.command}): it goes on with the runs not done`
        : idle === 0
          ? 'every run not done is running in its own process'
          : `no coordrl ab is running it: coordrl ab --resume ${st.experiment} continues the ${idle} runs neither done nor running (a running run is left to its process)`;
  return [head, ...lines, next].join('\n');
}

/** The Slurm status in words (job ids, Slurm states, log files). */
export function describeSlurmStatus(st: ExperimentSlurmStatus): string {
  const counts = RUN_PHASES.filter((p) => st.counts[p] > 0).map((p) => `${st.counts[p]} ${p}`);
  const head = `${st.experiment}: ${st.runs.length} runs: ${counts.join(', ')}${st.jobs.length ? ` (Slurm jobs ${st.jobs.join(', ')}; ended tasks from ${st.source})` : ''}`;
  const width = Math.max(...st.runs.map((r) => r.id.length));
  const lines = st.runs.map((r) =>
    [
      `  ${r.id.padEnd(width)}  ${r.state.padEnd(11)}`,
      `${r.steps}/${r.budgetSteps ?? '?'} steps`,
      r.finalScore !== null ? `score ${r.finalScore.toFixed(2)}` : '',
      r.job ? `job ${r.job}${r.slurmState ? ` ${r.slurmState}` : ''}` : '',
      r.detail ?? '',
      r.log && r.state !== 'done' ? `log ${r.log}` : '',
    ]
      .filter(Boolean)
      .join('  '),
  );
  const next =
    st.counts.done === st.runs.length
      ? `every run is done: coordrl report ${st.experiment}`
      : st.counts.pending + st.counts.running < st.runs.length - st.counts.done
        ? `runs neither done nor queued go to Slurm again with: coordrl ab --resume ${st.experiment}`
        : null;
  return [head, ...lines, ...(next ? [next] : [])].join('\n');
}
