// Runs the missing part of an A/B experiment: every (game, arm, seed) is trained, resumed or
// evaluated by a child `coordrl train|resume|eval --json` process (its own TensorFlow backend and
// env server), K at a time. Never repeats what is done: the disk says what each run has
// (see manifest.ts). Ctrl-C / SIGTERM: no new children; running ones get SIGTERM (they save a
// checkpoint and exit); a second signal forwards a second SIGTERM (they exit at once).
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { readMetrics } from '../training/metrics.js';
import { type EvalResult, recoverRunFile } from '../training/run.js';
import { UsageError } from '../util/cli-errors.js';
import {
  acquireDirLock,
  describeHolder,
  type LockState,
  lockState,
  tookOverNote,
  waitForLock,
} from '../util/dir-lock.js';
import { PARENT_WATCH_ENV } from '../util/parent-watch.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../version.js';
import {
  FINAL_FILE,
  type FinalFile,
  type Manifest,
  type ManifestRun,
  probeRun,
  type RunStatus,
  readManifest,
  readRunConfigFile,
  writeJsonAtomic,
  writeManifest,
} from './manifest.js';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last lines of stderr (TensorFlow's start-up noise removed). */
  stderrTail: string[];
}

export interface ChildHandle {
  done: Promise<ChildResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `coordrl <args>`; `log` receives the child's stderr lines (already filtered). */
export type Launcher = (args: string[], opts: { label: string; log: (line: string) => void }) => ChildHandle;

const TF_NOISE =
  /absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow|This TensorFlow binary is optimized|^\s*$/;

/**
 * Child processes of bin/coordrl.js, each in its own process group (so a terminal's Ctrl-C reaches
 * the parent only), each with a stdin pipe that closes when this process dies, however it dies:
 * the child then stops (src/util/parent-watch.ts), so no trainer outlives its `coordrl ab`.
 */
export function nodeLauncher(bin = path.join(PACKAGE_ROOT, 'bin', 'coordrl.js')): Launcher {
  return (args, { log }) => {
    const child = spawn(process.execPath, [bin, ...args], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2',
        [PARENT_WATCH_ENV]: 'stdin',
      },
    });
    // Nothing is written to it; an error (the child gone) is no news.
    child.stdin.on('error', () => {});
    let stdout = '';
    const tail: string[] = [];
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    const onLine = (line: string) => {
      if (TF_NOISE.test(line)) return;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      log(line);
    };
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    });
    const done = new Promise<ChildResult>((resolve) => {
      child.on('error', (e) => {
        tail.push(`coordrl: cannot start ${process.execPath}: ${e.message}`);
        resolve({ code: 1, signal: null, stdout, stderrTail: tail });
      });
      child.on('close', (code, signal) => {
        if (partial) onLine(partial);
        resolve({ code, signal, stdout, stderrTail: tail });
      });
    });
    return {
      done,
      kill: (sig) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      },
    };
  };
}

export interface RunnerOptions {
  parallel: number;
  launcher?: Launcher;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Seconds between progress summaries of the running runs (0: none). Default 60. */
  statusEvery?: number;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Lets a caller (a test) stop the experiment as a signal would. */
  stopper?: Stopper;
  /** Only this run (an id like `pong/conv/seed-1`): what one Slurm array task does. */
  only?: string;
  /**
   * With `only` (a Slurm task): a run held from another host whose heartbeat is still fresh may be
   * the previous task of a requeued job, killed on its node; wait up to this many seconds for the
   * heartbeat to stop before calling the run held (default 0: do not wait).
   */
  waitForHeldSeconds?: number;
  /**
   * Where the runs' states go (default: the experiment's manifest.json). Slurm tasks run side by
   * side on several nodes, so each writes its own run's state file instead (slurm-executor.ts).
   */
  saveState?: (manifest: Manifest, runs: ManifestRun[]) => void;
}

/** One stop request per call; the first stops launching and SIGTERMs children, later ones SIGTERM again. */
export class Stopper {
  count = 0;
  private readonly listeners: (() => void)[] = [];
  stop(): void {
    this.count++;
    for (const l of this.listeners) l();
  }
  onStop(l: () => void): void {
    this.listeners.push(l);
  }
}

export interface Launch {
  run: string;
  stage: 'train' | 'resume' | 'eval';
}

export interface ExperimentResult {
  expDir: string;
  manifest: Manifest;
  /** Every child process started, in order. */
  launches: Launch[];
  interrupted: boolean;
  done: number;
  total: number;
  failed: ManifestRun[];
  /** Runs left alone because a live process (another trainer) holds their lock: one line each. */
  held: { id: string; message: string }[];
}

interface TrainJson {
  stopReason?: string;
  steps?: number;
  meanScore?: number | null;
}

/** What `coordrl eval --json` prints (src/training/run.ts EvalResult); newer fields are optional. */
type EvalJson = Pick<EvalResult, 'checkpointStep' | 'episodes' | 'scores' | 'mean' | 'median' | 'min' | 'max'> &
  Partial<Pick<EvalResult, 'std' | 'quota' | 'lengthSteps'>>;

function parseJson<T>(stdout: string): T | null {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    return null;
  }
}

/** The child's own one-line error (`coordrl: ...`), or its last words. */
function childError(r: ChildResult, what: string): string {
  const line = [...r.stderrTail].reverse().find((l) => l.startsWith('coordrl:'));
  const why = line
    ? line.replace(/^coordrl:\s*/, '')
    : (r.stderrTail.at(-1) ?? `exit code ${r.code}${r.signal ? `, signal ${r.signal}` : ''}`);
  return `${what}: ${why}`;
}

function fmtCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

/** Last finite training-window score in metrics.jsonl. */
function lastMetricsScore(runDir: string): number | null {
  const recs = readMetrics(path.join(runDir, 'metrics.jsonl'));
  for (let i = recs.length - 1; i >= 0; i--) {
    const s = recs[i].score;
    if (typeof s === 'number' && Number.isFinite(s)) return s;
  }
  return null;
}

export async function runExperiment(expDir: string, opts: RunnerOptions): Promise<ExperimentResult> {
  const manifest = readManifest(expDir);
  // One runner per experiment; a Slurm task (`only`) runs beside the others and locks its run only
  // (through its trainer).
  const lock = opts.only ? null : acquireDirLock(expDir, { command: 'coordrl ab', label: expDir });
  const took = lock ? tookOverNote(lock, expDir) : null;
  if (took) (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(took);
  try {
    return await runLocked(expDir, manifest, opts);
  } finally {
    lock?.release();
  }
}

/** A live process's lock on the run (null when it is free or its holder is dead). */
function liveHolder(state: LockState | null): LockState | null {
  return state && state.stale === null ? state : null;
}

/** The child's own "RUN is in use by ..." line, when it refused to start for the run lock. */
function heldLine(r: ChildResult): string | null {
  const line = r.stderrTail.find((l) => / is in use by pid \d+ on host /.test(l));
  return line ? line.replace(/^coordrl:\s*/, '') : null;
}

async function runLocked(expDir: string, manifest: Manifest, opts: RunnerOptions): Promise<ExperimentResult> {
  const launcher = opts.launcher ?? nodeLauncher();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const stopper = opts.stopper ?? new Stopper();
  const live = new Set<ChildHandle>();
  const launches: Launch[] = [];
  const held: ExperimentResult['held'] = [];
  let fatal: string | null = null;
  const selected = opts.only ? manifest.runs.filter((r) => r.id === opts.only) : manifest.runs;
  if (opts.only && !selected.length) {
    throw new UsageError(
      `${expDir} has no run '${opts.only}' (runs look like ${manifest.runs[0]?.id ?? 'game/arm/seed-1'})`,
    );
  }
  const total = selected.length;

  const save = () => (opts.saveState ? opts.saveState(manifest, selected) : writeManifest(expDir, manifest));
  const set = (run: ManifestRun, status: RunStatus, extra: Partial<ManifestRun> = {}) => {
    Object.assign(run, extra, { status, updatedAt: new Date().toISOString() });
    if (status !== 'failed') delete run.error;
    save();
  };

  // What is there already: the disk decides, whatever the manifest said.
  const todo: ManifestRun[] = [];
  for (const run of selected) {
    const p = await probeRun(path.join(expDir, run.dir));
    const extra = { steps: p.steps, budgetSteps: p.budgetSteps ?? run.budgetSteps };
    if (p.state === 'final' && p.final) {
      Object.assign(run, extra, { status: 'done', finalScore: p.final.score, scoreSource: p.final.source });
      delete run.error;
    } else {
      Object.assign(run, extra, {
        status:
          p.state === 'trained'
            ? 'trained'
            : run.status === 'failed'
              ? 'failed'
              : p.state === 'new'
                ? 'pending'
                : 'interrupted',
        finalScore: null,
        scoreSource: null,
      });
      todo.push(run);
    }
  }
  save();
  const already = total - todo.length;
  log(
    `experiment ${expDir}: ${opts.only ? `run ${opts.only} of ` : ''}${manifest.runs.length} runs (${manifest.envs.length} games x ${manifest.arms.length} arms x ${manifest.seeds.length} seeds); ${already} done, ${todo.length} to do, ${Math.min(opts.parallel, todo.length) || 1} at a time`,
  );

  const onStop = () => {
    if (stopper.count === 1) {
      log(
        `stopping: no new runs; ${live.size} running run${live.size === 1 ? '' : 's'} save a checkpoint and exit (signal again to stop them at once)`,
      );
    } else {
      log('stopping now: the last complete checkpoints are kept');
    }
    for (const c of live) c.kill('SIGTERM');
  };
  stopper.onStop(onStop);
  const signalHandler = () => stopper.stop();
  const killAll = () => {
    for (const c of live) c.kill('SIGTERM');
  };
  if (opts.handleSignals !== false) {
    process.on('SIGINT', signalHandler);
    process.on('SIGTERM', signalHandler);
  }
  process.on('exit', killAll);

  const running = new Set<ManifestRun>();
  const ticker =
    (opts.statusEvery ?? 60) > 0
      ? setInterval(
          () => {
            if (!running.size) return;
            const parts = [...running].map((r) => {
              const last = readMetrics(path.join(expDir, r.dir, 'metrics.jsonl')).at(-1);
              const budget = r.budgetSteps ? ` of ${fmtCount(r.budgetSteps)}` : '';
              return last
                ? `${r.id} ${fmtCount(last.step)}${budget} steps (score ${Number.isFinite(last.score) && last.score !== null ? Number(last.score).toFixed(1) : '-'})`
                : `${r.id} starting`;
            });
            const done = selected.filter((r) => r.status === 'done').length;
            log(`progress: ${done}/${total} done; ${parts.join('; ')}`);
          },
          (opts.statusEvery ?? 60) * 1000,
        )
      : null;
  ticker?.unref();

  const stopped = () => stopper.count > 0 || fatal !== null;

  const launch = async (run: ManifestRun, stage: Launch['stage'], args: string[]): Promise<ChildResult> => {
    launches.push({ run: run.id, stage });
    const label = `[${run.id}]`;
    const h = launcher(args, { label, log: (l) => log(`${label} ${l}`) });
    live.add(h);
    // A stop that came while this child was being started reaches it too.
    if (stopper.count > 0) h.kill('SIGTERM');
    try {
      return await h.done;
    } finally {
      live.delete(h);
    }
  };

  /** True (and the run is left alone, said once) when a live process holds the run's lock. */
  const isHeld = async (run: ManifestRun, runDir: string): Promise<boolean> => {
    const wait = opts.only ? (opts.waitForHeldSeconds ?? 0) : 0;
    let state = liveHolder(lockState(runDir));
    if (state && wait > 0 && state.holder.host !== hostname()) {
      log(`${run.id}: held from host ${state.holder.host}; waiting up to ${wait} s for its heartbeat to stop`);
      state = liveHolder(await waitForLock(runDir, wait));
    }
    if (!state) return false;
    const message = describeHolder(runDir, state.holder);
    held.push({ id: run.id, message });
    log(`${run.id}: left alone: ${message}`);
    return true;
  };

  const processRun = async (run: ManifestRun) => {
    const runDir = path.join(expDir, run.dir);
    if (await isHeld(run, runDir)) return;
    let probe = await probeRun(runDir);
    if (probe.lostConfig) {
      recoverRunFile(runDir, readRunConfigFile(expDir, run));
      log(
        `${run.id}: config.json was missing: rebuilt it from the experiment (${run.configFile}); resuming from its checkpoints`,
      );
      probe = await probeRun(runDir);
    }
    let trainScore: number | null = null;
    if (probe.state === 'new' || probe.state === 'partial') {
      const stage = probe.state === 'new' ? 'train' : 'resume';
      const args =
        stage === 'train'
          ? ['train', '--config', path.join(expDir, run.configFile), '--run-dir', runDir, '--json', '--no-progress']
          : ['resume', runDir, '--json', '--no-progress'];
      log(
        stage === 'train'
          ? `${run.id}: training`
          : `${run.id}: resuming from step ${probe.steps.toLocaleString()}${probe.budgetSteps ? ` of ${probe.budgetSteps.toLocaleString()}` : ''}`,
      );
      set(run, 'running', { trainLaunches: run.trainLaunches + 1 });
      const r = await launch(run, stage, args);
      probe = await probeRun(runDir);
      const extra = { steps: probe.steps, budgetSteps: probe.budgetSteps };
      const heldBy = r.code === 2 ? heldLine(r) : null;
      if (heldBy) {
        // Another trainer took the run between the check above and this child's start.
        held.push({ id: run.id, message: heldBy });
        set(run, probe.state === 'new' ? 'pending' : 'interrupted', extra);
        log(`${run.id}: left alone: ${heldBy}`);
        return;
      }
      if (r.code === 2) {
        fatal ??= childError(r, `${run.id} (${stage})`);
        set(run, 'failed', { ...extra, error: childError(r, stage) });
        return;
      }
      if (r.code !== 0 && r.code !== 130 && r.signal === null) {
        set(run, 'failed', { ...extra, error: childError(r, stage) });
        log(`${run.id}: ${stage} failed: ${run.error}`);
        return;
      }
      const out = r.code === 0 ? parseJson<TrainJson>(r.stdout) : null;
      if (probe.state !== 'trained') {
        set(run, 'interrupted', extra);
        log(`${run.id}: stopped at step ${probe.steps.toLocaleString()} (coordrl ab --resume continues it)`);
        return;
      }
      trainScore = typeof out?.meanScore === 'number' && Number.isFinite(out.meanScore) ? out.meanScore : null;
      set(run, 'trained', extra);
    }
    if (probe.state !== 'trained') return;
    trainScore ??= lastMetricsScore(runDir);
    let final: FinalFile;
    if (manifest.evalEpisodes > 0) {
      if (stopped()) return;
      log(`${run.id}: evaluating (${manifest.evalEpisodes} greedy episode${manifest.evalEpisodes === 1 ? '' : 's'})`);
      set(run, 'running');
      const r = await launch(run, 'eval', ['eval', runDir, '--episodes', String(manifest.evalEpisodes), '--json']);
      const ev = r.code === 0 ? parseJson<EvalJson>(r.stdout) : null;
      if (!ev || !Number.isFinite(ev.mean)) {
        // Exit 2 here is this run's own problem (e.g. no good checkpoint left to evaluate: the config
        // was already accepted by training), so only this run fails; the others go on.
        const interrupted = r.code === 130 || r.signal !== null;
        set(run, interrupted ? 'trained' : 'failed', interrupted ? {} : { error: childError(r, 'eval') });
        if (!interrupted) log(`${run.id}: evaluation failed: ${run.error}`);
        return;
      }
      final = {
        coordrl: PACKAGE_VERSION,
        createdAt: new Date().toISOString(),
        source: 'eval',
        score: ev.mean,
        checkpointStep: ev.checkpointStep,
        eval: {
          episodes: ev.episodes,
          scores: ev.scores,
          mean: ev.mean,
          median: ev.median,
          min: ev.min,
          max: ev.max,
          ...(ev.std === undefined ? {} : { std: ev.std }),
          ...(ev.quota === undefined ? {} : { quota: ev.quota }),
          ...(ev.lengthSteps === undefined ? {} : { lengthSteps: ev.lengthSteps }),
        },
        trainScore,
      };
    } else {
      if (trainScore === null) {
        set(run, 'failed', {
          error: 'no training episode finished, so there is no training score (use --eval-episodes)',
        });
        return;
      }
      final = {
        coordrl: PACKAGE_VERSION,
        createdAt: new Date().toISOString(),
        source: 'train-window',
        score: trainScore,
        checkpointStep: probe.steps,
        eval: null,
        trainScore,
      };
    }
    writeJsonAtomic(path.join(runDir, FINAL_FILE), final);
    set(run, 'done', { finalScore: final.score, scoreSource: final.source });
    const done = selected.filter((r) => r.status === 'done').length;
    log(
      `${run.id}: done, final score ${final.score.toFixed(2)} (${final.source === 'eval' ? `greedy mean of ${final.eval?.episodes} episodes` : 'last training window'}) [${done}/${total}]`,
    );
  };

  const queue = [...todo];
  const worker = async () => {
    while (!stopped()) {
      const run = queue.shift();
      if (!run) return;
      running.add(run);
      try {
        await processRun(run);
      } finally {
        running.delete(run);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel, todo.length)) }, worker));
  } finally {
    if (ticker) clearInterval(ticker);
    if (opts.handleSignals !== false) {
      process.off('SIGINT', signalHandler);
      process.off('SIGTERM', signalHandler);
    }
    process.off('exit', killAll);
    save();
  }
  if (fatal) throw new UsageError(fatal);
  return {
    expDir,
    manifest,
    launches,
    interrupted: stopper.count > 0,
    done: selected.filter((r) => r.status === 'done').length,
    total,
    failed: selected.filter((r) => r.status === 'failed'),
    held,
  };
}
