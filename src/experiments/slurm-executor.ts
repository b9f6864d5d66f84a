// The Slurm executor of an A/B experiment: the runs that are neither done nor queued go to Slurm
// as one job array (one run per task, each `coordrl ab --resume EXP --run ID`), and the state of
// every run is the disk's word (final.json, checkpoints) merged with Slurm's (squeue, and sacct
// when accounting is on; otherwise the job output files). On disk, beside the runs:
//   EXP/slurm/jobs.json               the settings and every submission (job id, script, runs by task)
//   EXP/slurm/job-<k>.sh              the k-th job array script, as submitted (readable, reusable)
//   EXP/slurm/logs/<job>_<task>.out   each task's output (coordrl's progress and errors)
//   EXP/slurm/state/<run id>.json     what the task's runner last saw of its run
// Only the submit host writes manifest.json and jobs.json; tasks on the nodes write only their
// own run's state file, so tasks never overwrite each other.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { acquireDirLock, lockState } from '../util/dir-lock.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../version.js';
import {
  type Manifest,
  type ManifestRun,
  probeRun,
  type RunStatus,
  readManifest,
  writeJsonAtomic,
  writeManifest,
} from './manifest.js';
import {
  jobScript,
  parseJobLog,
  type SlurmClient,
  type SlurmResources,
  type SlurmTaskState,
  slurmPhase,
} from './slurm.js';

export const SLURM_DIR = 'slurm';
const JOBS_FILE = 'jobs.json';
const JOBS_FORMAT = 'coordrl-slurm';

export interface SlurmSettings {
  resources: SlurmResources;
  /** At most this many tasks at once (`%K` on the array). */
  maxRunning?: number;
  /** The node binary and bin/coordrl.js the tasks run (the submit host's, by default). */
  node: string;
  bin: string;
}

export interface Submission {
  jobId: string;
  submittedAt: string;
  /** Relative to the experiment directory. */
  script: string;
  /** Array task i runs runs[i]. */
  runs: string[];
}

export interface SlurmJobs {
  format: typeof JOBS_FORMAT;
  version: 1;
  coordrl: string;
  settings: SlurmSettings;
  submissions: Submission[];
}

/** What a task's runner writes for its run (EXP/slurm/state/<run id>.json). */
export interface TaskRecord {
  run: ManifestRun;
  /** `<array job id>_<task>`, or null outside Slurm. */
  task: string | null;
  host: string;
  updatedAt: string;
}

export type RunPhase = 'unsubmitted' | 'pending' | 'running' | 'done' | 'stopped' | 'failed' | 'cancelled';
export const RUN_PHASES: readonly RunPhase[] = [
  'pending',
  'running',
  'done',
  'stopped',
  'failed',
  'cancelled',
  'unsubmitted',
];

export interface RunSlurmStatus {
  id: string;
  state: RunPhase;
  /** Agent steps in the newest good checkpoint, and the budget. */
  steps: number;
  budgetSteps: number | null;
  finalScore: number | null;
  /** `<array job id>_<task>` of its latest submission. */
  job: string | null;
  /** Slurm's word for that task (RUNNING, CANCELLED, TIMEOUT, ...), when known. */
  slurmState: string | null;
  /** Where the task's output goes (absolute), once submitted. */
  log: string | null;
  /** Why it failed / stopped, or what it waits for. */
  detail: string | null;
}

export interface ExperimentSlurmStatus {
  experiment: string;
  /** Array job ids of every submission, oldest first. */
  jobs: string[];
  /** Where finished tasks' states came from. */
  source: 'sacct' | 'job output files';
  counts: Record<RunPhase, number>;
  runs: RunSlurmStatus[];
}

export function jobsPath(expDir: string): string {
  return path.join(expDir, SLURM_DIR, JOBS_FILE);
}

export function readJobs(expDir: string): SlurmJobs | null {
  const file = jobsPath(expDir);
  if (!existsSync(file)) return null;
  let j: SlurmJobs;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as SlurmJobs;
  } catch (e) {
    throw new UserFacingError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (j?.format !== JOBS_FORMAT || !Array.isArray(j.submissions)) {
    throw new UserFacingError(`${file} is not a coordrl Slurm job list`);
  }
  return j;
}

/** The node and coordrl of this installation, for tasks on nodes that share its path. */
export function defaultCommand(): { node: string; bin: string } {
  return { node: process.execPath, bin: path.join(PACKAGE_ROOT, 'bin', 'coordrl.js') };
}

function taskStatePath(expDir: string, runId: string): string {
  return path.join(expDir, SLURM_DIR, 'state', `${runId}.json`);
}

/** The runner's state saver for a Slurm task: its run's state file, never the shared manifest. */
export function taskStateSaver(expDir: string): (manifest: Manifest, runs: ManifestRun[]) => void {
  const task =
    process.env.SLURM_ARRAY_JOB_ID && process.env.SLURM_ARRAY_TASK_ID
      ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}`
      : null;
  return (_manifest, runs) => {
    for (const run of runs) {
      const rec: TaskRecord = { run, task, host: hostname(), updatedAt: new Date().toISOString() };
      writeJsonAtomic(taskStatePath(expDir, run.id), rec);
    }
  };
}

function readTaskRecord(expDir: string, runId: string): TaskRecord | null {
  try {
    const r = JSON.parse(readFileSync(taskStatePath(expDir, runId), 'utf8')) as TaskRecord;
    return r?.run?.id === runId ? r : null;
  } catch {
    return null; // none yet, or torn: the disk and Slurm still say enough
  }
}

function readLog(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The latest submission of each run, with its task index. */
function latestTasks(jobs: SlurmJobs | null): Map<string, { sub: Submission; task: number }> {
  const out = new Map<string, { sub: Submission; task: number }>();
  for (const sub of jobs?.submissions ?? []) {
    for (const [task, id] of sub.runs.entries()) out.set(id, { sub, task });
  }
  return out;
}

/** Every run's state: the disk first (done is done), then the queue, then how its task ended. */
export async function experimentStatus(expDir: string, client: SlurmClient): Promise<ExperimentSlurmStatus> {
  const manifest = readManifest(expDir);
  const jobs = readJobs(expDir);
  const tasks = latestTasks(jobs);
  const jobIds = (jobs?.submissions ?? []).map((s) => s.jobId);
  const queued = new Map<string, SlurmTaskState>();
  if (jobIds.length) for (const t of await client.squeue()) if (jobIds.includes(t.arrayJobId)) queued.set(t.id, t);
  const accounted = jobIds.length ? await client.sacct(jobIds) : [];
  const acct = new Map((accounted ?? []).map((t) => [t.id, t]));

  const runs: RunSlurmStatus[] = [];
  for (const run of manifest.runs) {
    const probe = await probeRun(path.join(expDir, run.dir));
    const at = tasks.get(run.id);
    const job = at ? `${at.sub.jobId}_${at.task}` : null;
    const log = at ? path.join(expDir, SLURM_DIR, 'logs', `${job}.out`) : null;
    const base = {
      id: run.id,
      steps: probe.steps,
      budgetSteps: probe.budgetSteps ?? run.budgetSteps,
      finalScore: probe.final?.score ?? null,
      job,
      log,
    };
    const q = job ? queued.get(job) : undefined;
    if (probe.state === 'final') {
      runs.push({ ...base, state: 'done', slurmState: q?.state ?? acct.get(job ?? '')?.state ?? null, detail: null });
      continue;
    }
    // A live trainer holds the run (its task, or one that outlived an earlier task): running,
    // whatever became of the latest task (one refused for the lock exits 2 and is no failure).
    const lock = lockState(path.join(expDir, run.dir));
    if (lock && lock.stale === null) {
      runs.push({
        ...base,
        state: 'running',
        slurmState: q?.state ?? null,
        detail: `held by pid ${lock.holder.pid} on host ${lock.holder.host} since ${lock.holder.startedAt} (${lock.holder.command})`,
      });
      continue;
    }
    if (!job || !log) {
      runs.push({
        ...base,
        state: 'unsubmitted',
        slurmState: null,
        detail: probe.state === 'new' ? null : `stopped at step ${probe.steps}`,
      });
      continue;
    }
    if (q && (q.phase === 'pending' || q.phase === 'running')) {
      runs.push({ ...base, state: q.phase, slurmState: q.state, detail: q.detail || null });
      continue;
    }
    // The task has left the queue without finishing its run: how did it end?
    const text = readLog(log);
    const ended = acct.get(job) ?? (text !== null ? parseJobLog(text) : null);
    const rec = readTaskRecord(expDir, run.id);
    const slurmState = ended?.state ?? null;
    const phase = slurmState ? slurmPhase(slurmState) : null;
    const where = `(see ${log})`;
    if (phase === 'pending' || phase === 'running') {
      // sacct saw it queued or running though squeue no longer does: between the two calls.
      runs.push({ ...base, state: phase, slurmState, detail: null });
    } else if (phase === 'cancelled') {
      runs.push({ ...base, state: 'cancelled', slurmState, detail: `cancelled at step ${probe.steps}` });
    } else if (phase === 'stopped') {
      runs.push({ ...base, state: 'stopped', slurmState, detail: `${slurmState} at step ${probe.steps}` });
    } else if (phase === 'failed' && slurmState !== 'FAILED') {
      runs.push({ ...base, state: 'failed', slurmState, detail: `${slurmState} ${where}` });
    } else if (rec?.run.status === 'failed') {
      runs.push({ ...base, state: 'failed', slurmState, detail: rec.run.error ?? `failed ${where}` });
    } else if (rec && (rec.run.status === 'interrupted' || rec.run.status === 'trained')) {
      runs.push({ ...base, state: 'stopped', slurmState, detail: `stopped at step ${probe.steps}` });
    } else if (text === null) {
      runs.push({
        ...base,
        state: 'cancelled',
        slurmState,
        detail: 'left the queue without starting (no output file): cancelled while pending?',
      });
    } else {
      runs.push({ ...base, state: 'failed', slurmState, detail: `the task ended without finishing its run ${where}` });
    }
  }
  const counts = Object.fromEntries(RUN_PHASES.map((p) => [p, runs.filter((r) => r.state === p).length])) as Record<
    RunPhase,
    number
  >;
  syncManifest(expDir, manifest, runs);
  return {
    experiment: expDir,
    jobs: jobIds,
    source: accounted === null ? 'job output files' : 'sacct',
    counts,
    runs,
  };
}

/** The manifest says what the submit host last saw, as for the local executor. */
function syncManifest(expDir: string, manifest: Manifest, runs: RunSlurmStatus[]): void {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const as: Record<RunPhase, RunStatus> = {
    unsubmitted: 'pending',
    pending: 'pending',
    running: 'running',
    done: 'done',
    stopped: 'interrupted',
    cancelled: 'interrupted',
    failed: 'failed',
  };
  let changed = false;
  for (const run of manifest.runs) {
    const s = byId.get(run.id);
    if (!s) continue;
    const status = s.state === 'unsubmitted' && s.steps > 0 ? 'interrupted' : as[s.state];
    const rec = readTaskRecord(expDir, run.id);
    const next: Partial<ManifestRun> = {
      status,
      steps: s.steps,
      budgetSteps: s.budgetSteps,
      finalScore: s.finalScore,
      scoreSource: s.state === 'done' ? (rec?.run.scoreSource ?? run.scoreSource) : null,
      trainLaunches: Math.max(run.trainLaunches, rec?.run.trainLaunches ?? 0),
    };
    if (Object.entries(next).some(([k, v]) => run[k as keyof ManifestRun] !== v)) {
      Object.assign(run, next, { updatedAt: new Date().toISOString() });
      if (status === 'failed') run.error = s.detail ?? undefined;
      else delete run.error;
      changed = true;
    }
  }
  if (changed) writeManifest(expDir, manifest);
}

/** The experiment directory goes into `#SBATCH --output=...`, where `%` is a pattern and `"` a quote. */
export function checkSlurmPath(expDir: string): void {
  if (/["%\\\n\r]/.test(expDir)) {
    throw new UsageError(
      `the experiment directory ${JSON.stringify(expDir)} has a character Slurm's --output cannot take (" % \\ or a line break); use another path`,
    );
  }
}

export interface SubmitResult {
  experiment: string;
  /** null: nothing to submit (every run done or queued). */
  jobId: string | null;
  script: string | null;
  runs: string[];
  /** Runs left alone because they are done or already queued. */
  skipped: { id: string; state: RunPhase }[];
  logs: string | null;
}

/**
 * Submits every run that is neither done nor queued as one job array (an experiment's first
 * submission is all of its runs). Writes the script and records the submission before returning.
 */
export async function submitMissing(
  expDir: string,
  settings: SlurmSettings,
  client: SlurmClient,
): Promise<SubmitResult> {
  checkSlurmPath(expDir);
  // Two submissions at once would both submit the missing runs.
  const lock = acquireDirLock(expDir, { command: 'coordrl ab (Slurm submission)', label: expDir });
  try {
    return await submitLocked(expDir, settings, client);
  } finally {
    lock.release();
  }
}

async function submitLocked(expDir: string, settings: SlurmSettings, client: SlurmClient): Promise<SubmitResult> {
  const status = await experimentStatus(expDir, client);
  const todo = status.runs.filter((r) => !['done', 'pending', 'running'].includes(r.state)).map((r) => r.id);
  const skipped = status.runs.filter((r) => !todo.includes(r.id)).map((r) => ({ id: r.id, state: r.state }));
  const prior = readJobs(expDir);
  const jobs: SlurmJobs = prior
    ? { ...prior, settings, coordrl: PACKAGE_VERSION }
    : { format: JOBS_FORMAT, version: 1, coordrl: PACKAGE_VERSION, settings, submissions: [] };
  if (!todo.length) {
    writeJsonAtomic(jobsPath(expDir), jobs);
    return { experiment: expDir, jobId: null, script: null, runs: [], skipped, logs: null };
  }
  const k = jobs.submissions.length + 1;
  const rel = path.join(SLURM_DIR, `job-${k}.sh`);
  const scriptPath = path.join(expDir, rel);
  const logs = path.join(expDir, SLURM_DIR, 'logs');
  const text = jobScript({
    expDir,
    runs: todo,
    jobName: `coordrl-${path.basename(expDir).replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    output: path.join(logs, '%A_%a.out'),
    maxRunning: settings.maxRunning,
    resources: settings.resources,
    scriptPath,
    node: settings.node,
    bin: settings.bin,
    createdAt: new Date().toISOString(),
  });
  // Slurm opens the output file itself, and fails the task if its folder is missing.
  writeJsonAtomic(path.join(logs, '.keep.json'), { note: 'Slurm task output: <array job id>_<task>.out' });
  writeFileSync(scriptPath, text);
  chmodSync(scriptPath, 0o755);
  // Recorded before sbatch, so that after a refusal `ab --resume` still knows this is a Slurm experiment.
  writeJsonAtomic(jobsPath(expDir), jobs);
  const jobId = await client.sbatch(scriptPath);
  jobs.submissions.push({ jobId, submittedAt: new Date().toISOString(), script: rel, runs: todo });
  writeJsonAtomic(jobsPath(expDir), jobs);
  return { experiment: expDir, jobId, script: scriptPath, runs: todo, skipped, logs };
}

/** The experiment's tasks still queued or running (none when Slurm is not on this host). */
export async function queuedTasks(expDir: string, client: SlurmClient): Promise<string[]> {
  const ids = (readJobs(expDir)?.submissions ?? []).map((s) => s.jobId);
  if (!ids.length) return [];
  try {
    return (await client.squeue()).filter((t) => ids.includes(t.arrayJobId)).map((t) => t.id);
  } catch {
    return [];
  }
}

/** Cancels every task of the experiment still queued or running; returns the array job ids. */
export async function cancelExperiment(expDir: string, client: SlurmClient): Promise<string[]> {
  readManifest(expDir);
  const jobs = readJobs(expDir);
  if (!jobs?.submissions.length) return [];
  const ids = jobs.submissions.map((s) => s.jobId);
  const live = [...new Set((await client.squeue()).filter((t) => ids.includes(t.arrayJobId)).map((t) => t.arrayJobId))];
  await client.scancel(live);
  return live;
}
