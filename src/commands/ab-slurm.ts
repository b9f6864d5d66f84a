// `coordrl ab` with Slurm: the flags of the Slurm executor, submission, `--status`, `--cancel`,
// and `--run` (one run only: what each array task executes). Kept apart from ab.ts so that the
// local executor's path there stays as it was.
import path from 'node:path';
import { type Command, Option } from 'commander';
import { runExperiment } from '../experiments/runner.js';
import { DEFAULT_SIGNAL_BEFORE, SlurmClient, type SlurmResources, validateResources } from '../experiments/slurm.js';
import {
  cancelExperiment,
  checkSlurmPath,
  defaultCommand,
  experimentStatus,
  queuedTasks,
  readJobs,
  type SlurmSettings,
  submitMissing,
  taskStateSaver,
} from '../experiments/slurm-executor.js';
import { describeLocalStatus, describeSlurmStatus, localStatus } from '../experiments/status.js';
import { describeReport, writeReport } from '../report/index.js';
import { positiveInt, UsageError } from '../util/cli-errors.js';
import { DEFAULT_HEARTBEAT_S, DEFAULT_STALE_S } from '../util/dir-lock.js';
import { printResult } from '../util/output.js';

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export interface SlurmFlags {
  executor?: ExecutorName;
  status?: string;
  cancel?: string;
  run?: string;
  partition?: string;
  time?: string;
  cpusPerRun?: number;
  mem?: string;
  gpusPerRun?: string;
  account?: string;
  qos?: string;
  sbatch?: string[];
  signalBefore?: number;
  requeue?: boolean;
  parallel?: number;
  json?: boolean;
  statusEvery?: number;
  report?: boolean;
}

/** The resource flags (all mean nothing to the local executor). */
const RESOURCE_FLAGS = [
  'partition',
  'time',
  'cpusPerRun',
  'mem',
  'gpusPerRun',
  'account',
  'qos',
  'sbatch',
  'signalBefore',
] as const;

const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function addSlurmOptions(cmd: Command): void {
  cmd
    .addOption(
      new Option(
        '--executor <name>',
        "where runs go: local child processes, or one Slurm job array (default local; --resume keeps the experiment's)",
      ).choices([...EXECUTORS]),
    )
    .option('--status <dir>', 'state of every run of an experiment (with Slurm: job ids, Slurm states, log files)')
    .option('--cancel <dir>', "cancel the experiment's queued and running Slurm tasks (checkpoints are kept)")
    .option('--run <id>', 'with --resume: only this run (e.g. cartpole/conv/seed-1); what each Slurm task runs')
    .option('--partition <name>', 'slurm: partition (sbatch --partition)')
    .option('--time <limit>', 'slurm: time limit per run, e.g. 4:00:00 or 1-12:00:00 (sbatch --time)')
    .option('--cpus-per-run <n>', 'slurm: CPUs per run (sbatch --cpus-per-task)', positiveInt('--cpus-per-run'))
    .option('--mem <size>', 'slurm: memory per run, e.g. 16G (sbatch --mem)')
    .option('--gpus-per-run <n>', 'slurm: GPUs per run, a count or type:count (sbatch --gres=gpu:N)')
    .option('--account <name>', 'slurm: account to charge (sbatch --account)')
    .option('--qos <name>', 'slurm: quality of service (sbatch --qos)')
    .option(
      '--sbatch <option>',
      'slurm: any other sbatch option, passed through, e.g. --sbatch=--constraint=a100 (repeatable)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option(
      '--signal-before <seconds>',
      `slurm: SIGUSR1 this long before the time limit; the run saves a checkpoint and exits (default ${DEFAULT_SIGNAL_BEFORE})`,
      positiveInt('--signal-before'),
    )
    .option(
      '--no-requeue',
      'slurm: do not requeue a run stopped by the time limit or preemption (sbatch --no-requeue)',
    );
}

/** The executor of this invocation: the flag, else the experiment's own (Slurm once it was submitted there). */
export function executorFor(flags: SlurmFlags, expDir: string | null): ExecutorName {
  if (flags.executor) return flags.executor;
  return expDir && readJobs(expDir) ? 'slurm' : 'local';
}

/** Refuses Slurm flags without the Slurm executor, and a lone --run. */
export function checkSlurmFlags(flags: SlurmFlags, executor: ExecutorName, resume: boolean): void {
  if (flags.run && !resume) throw new UsageError('--run goes with --resume <dir>: it runs one run of an experiment');
  if (flags.run && flags.executor === 'slurm') {
    throw new UsageError('--run runs one run here (it is what a Slurm task executes); drop --executor slurm');
  }
  if (executor === 'local') {
    const given = [
      ...RESOURCE_FLAGS.filter((k) => flags[k] !== undefined),
      ...(flags.requeue === false ? ['requeue'] : []),
    ];
    if (given.length && !flags.run) {
      throw new UsageError(
        `${given.map((k) => (k === 'requeue' ? '--no-requeue' : flagName(k))).join(', ')} go with --executor slurm`,
      );
    }
  }
}

/** A local run of an experiment whose runs are still in Slurm's queue would run them twice. */
export async function checkNothingQueued(expDir: string, client = new SlurmClient()): Promise<void> {
  const queued = await queuedTasks(expDir, client);
  if (queued.length) {
    throw new UsageError(
      `${expDir} has Slurm tasks queued or running (${queued.slice(0, 4).join(', ')}${queued.length > 4 ? ', ...' : ''}); wait for them (coordrl ab --status) or cancel them (coordrl ab --cancel) before running it locally`,
    );
  }
}

/** The resources of a submission: the experiment's previous ones (on resume), then the flags given now. */
function resourcesFrom(flags: SlurmFlags, prior?: SlurmResources): SlurmResources {
  const r: SlurmResources = prior ?? { extra: [], signalBefore: DEFAULT_SIGNAL_BEFORE, requeue: true };
  return validateResources({
    ...r,
    ...(flags.partition !== undefined ? { partition: flags.partition } : {}),
    ...(flags.time !== undefined ? { time: flags.time } : {}),
    ...(flags.cpusPerRun !== undefined ? { cpusPerRun: flags.cpusPerRun } : {}),
    ...(flags.mem !== undefined ? { mem: flags.mem } : {}),
    ...(flags.gpusPerRun !== undefined ? { gpusPerRun: flags.gpusPerRun } : {}),
    ...(flags.account !== undefined ? { account: flags.account } : {}),
    ...(flags.qos !== undefined ? { qos: flags.qos } : {}),
    ...(flags.sbatch !== undefined ? { extra: flags.sbatch } : {}),
    ...(flags.signalBefore !== undefined ? { signalBefore: flags.signalBefore } : {}),
    ...(flags.requeue === false ? { requeue: false } : {}),
  });
}

function settingsFrom(flags: SlurmFlags, expDir: string): SlurmSettings {
  const prior = readJobs(expDir)?.settings;
  return {
    resources: resourcesFrom(flags, prior?.resources),
    maxRunning: flags.parallel ?? prior?.maxRunning,
    ...(prior ? { node: prior.node, bin: prior.bin } : defaultCommand()),
  };
}

/** Validates the Slurm flags of a new experiment, and finds sbatch, before its directory is made. */
export async function checkNewSlurmExperiment(
  expDir: string,
  flags: SlurmFlags,
  needSbatch: boolean,
  client = new SlurmClient(),
): Promise<void> {
  checkSlurmPath(expDir);
  resourcesFrom(flags);
  if (needSbatch) await client.check();
}

/** Submits what is missing as one job array and says where to look. */
export async function submitWithSlurm(expDir: string, flags: SlurmFlags, client = new SlurmClient()): Promise<void> {
  const json = Boolean(flags.json);
  const res = await submitMissing(expDir, settingsFrom(flags, expDir), client);
  // Everything done (a resume after the last task): the report, as the local executor writes it.
  const allDone = res.jobId === null && res.skipped.every((s) => s.state === 'done');
  const report = allDone && flags.report !== false ? await writeReport(expDir) : null;
  printResult(json, { executor: 'slurm', ...res, report: report?.files ?? null }, () =>
    res.jobId
      ? [
          `submitted Slurm job array ${res.jobId}: ${res.runs.length} run${res.runs.length === 1 ? '' : 's'} (tasks 0-${res.runs.length - 1}${flags.parallel ? `, at most ${flags.parallel} at once` : ''})`,
          `  script: ${res.script}`,
          `  logs:   ${res.logs}/${res.jobId}_<task>.out`,
          ...(res.skipped.length ? [`  left alone: ${res.skipped.map((s) => `${s.id} (${s.state})`).join(', ')}`] : []),
          `follow with: coordrl ab --status ${expDir}`,
        ].join('\n')
      : report
        ? `every run of ${expDir} is done.\n${describeReport(report)}`
        : `nothing to submit: every run of ${expDir} is done or queued (${res.skipped.map((s) => s.state).join(', ')}); see coordrl ab --status ${expDir}`,
  );
}

export async function abStatus(dir: string, flags: SlurmFlags, client = new SlurmClient()): Promise<void> {
  const expDir = path.resolve(dir);
  const st = await experimentStatus(expDir, client);
  if (st.jobs.length === 0) {
    const local = localStatus(st, expDir);
    printResult(Boolean(flags.json), local, () => describeLocalStatus(local));
    return;
  }
  printResult(Boolean(flags.json), st, () => describeSlurmStatus(st));
}

export async function abCancel(dir: string, flags: SlurmFlags, client = new SlurmClient()): Promise<void> {
  const expDir = path.resolve(dir);
  const ids = await cancelExperiment(expDir, client);
  printResult(Boolean(flags.json), { experiment: expDir, cancelled: ids }, () =>
    ids.length
      ? `cancelled Slurm job${ids.length === 1 ? '' : 's'} ${ids.join(', ')}; checkpoints are kept: coordrl ab --resume ${expDir} continues`
      : `no queued or running Slurm tasks for ${expDir}`,
  );
}

/** One run of the experiment, here (a Slurm task): writes its own state file, not the manifest. */
export async function runOne(expDir: string, flags: SlurmFlags): Promise<void> {
  const id = flags.run as string;
  const result = await runExperiment(expDir, {
    parallel: 1,
    only: id,
    statusEvery: flags.statusEvery,
    saveState: taskStateSaver(expDir),
    // A requeued task may start on another node before its killed predecessor's heartbeat stops.
    waitForHeldSeconds: DEFAULT_STALE_S + DEFAULT_HEARTBEAT_S,
  });
  // Held by a live trainer (an earlier task of this run still at work): start nothing, exit 2;
  // `ab --status` shows the run as running while its lock is held.
  const held = result.held.find((h) => h.id === id);
  if (held) throw new UsageError(held.message);
  const run = result.manifest.runs.find((r) => r.id === id);
  printResult(
    Boolean(flags.json),
    { experiment: expDir, run: id, status: run?.status, launches: result.launches, error: run?.error ?? null },
    () =>
      `${id}: ${run?.status}${run?.error ? `: ${run.error}` : ''}${result.launches.length ? '' : ' (nothing to do)'}`,
  );
  if (result.interrupted) process.exitCode = 130;
  else if (result.failed.length) process.exitCode = 1;
}
