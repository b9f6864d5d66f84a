// A training run on disk: start, resume, evaluate, inspect. The run directory holds
// config.json, metrics.jsonl, tensorboard/ and checkpoints/ (see src/checkpoint).
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type AgentContext, type AgentEnv, NonFiniteLossError, type TrainableAgent } from '../agent.js';
import { algorithm, createAgent, samplingAlgorithms } from '../algorithms/registry.js';
import { type BackendInfo, initBackend } from '../backend.js';
import { setCompiledPrecision, usablePrecision } from '../compiled/runtime.js';
import { budgetSteps, frameSkipFor, isAtari, isMinAtar, MAX_COUNT, validate } from '../config.js';
import { ALGOS, type Algo, type RunConfig, runConfigKeys, runConfigSchema } from '../run-config.js';
import { tf } from '../tf.js';
import { applyTorso, autoArch, describeTorso, NATURE_MIN_SIDE, type TorsoOptions } from '../torsos.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { acquireDirLock, type DirLock, tookOverNote } from '../util/dir-lock.js';
import { note } from '../util/output.js';
import { type CodeVersion, codeVersion, type MachineInfo, machineInfo } from '../util/provenance.js';
import { Rng } from '../util/rng.js';
import { PACKAGE_VERSION } from '../version.js';
import {
  closeEnv,
  createEnv,
  envRestarts,
  envServerVersions,
  probeEnvSpaces,
  trainingEnvGroups,
} from './env-factory.js';
import { EpisodeStats } from './episodes.js';
import { type EvalEpisode, episodeQuota, playEpisodes, type Spread, spread } from './evaluation.js';
import { checkRunMemory, describeEstimate, estimateRunMemory, type MemoryEstimate, type ObsSpace } from './memory.js';
import { defaultLogEvery, MetricsLogger, readMetrics } from './metrics.js';
import { checkRunDirUsable, describeFsError } from './preflight.js';
import {
  checkRunCheckpoints,
  INFO_CHECKS,
  loadNamedRunCheckpoint,
  loadRunCheckpoint,
  noGoodCheckpointError,
  type RunCheckpointState,
  saveRunCheckpoint,
  setAsideCheckpoints,
} from './run-checkpoint.js';
import { episodeHook, runTraining, type StopReason, StopSignal, type TrainerCounters } from './trainer.js';

/**
 * Default budget when neither --frames nor --steps is given: 10M frames on Atari, 5M on MinAtar (the
 * MinAtar paper's budget), 200k steps otherwise.
 */
export function defaultBudget(config: RunConfig): number {
  if (isMinAtar(config.env)) return budgetSteps(config, 5_000_000);
  return budgetSteps(config, isAtari(config.env) ? Math.ceil(10_000_000 / frameSkipFor(config.env)) : 200_000);
}

export interface RunFile {
  coordrl: string;
  createdAt: string;
  config: RunConfig;
  budgetSteps: number;
  frameSkip: number;
}

export interface RunResult {
  runDir: string;
  stopReason: StopReason;
  steps: number;
  frames: number;
  updates: number;
  episodes: number;
  meanScore: number | null;
  wallSeconds: number;
  backend: string;
  device: string;
  summary: string;
}

/** The env seed used when the envs are (re)set at `step` (slot k adds k), below 2^31. */
export function envSeedAt(seed: number, step: number): number {
  return (seed * 1_000_003 + step) % 2_147_000_000;
}

export function resolveTorso(config: RunConfig, obsShape: readonly number[]): TorsoOptions {
  const image = obsShape.length === 3;
  const kind = config.torso === 'auto' ? (image ? 'coordconv' : 'mlp') : config.torso;
  if (!image && kind !== 'mlp') {
    throw new UsageError(
      `--torso ${kind} needs image observations, but ${config.env} gives vectors of shape [${obsShape.join(', ')}]; use --torso mlp (or auto)`,
    );
  }
  if (image && kind === 'mlp') {
    throw new UsageError(`--torso mlp is for vector observations; ${config.env} gives images: use conv or coordconv`);
  }
  const arch = config.arch === 'auto' ? autoArch(obsShape) : config.arch;
  if (image && kind !== 'mlp' && arch === 'nature' && Math.min(obsShape[0], obsShape[1]) < NATURE_MIN_SIDE) {
    throw new UsageError(
      `--arch nature needs images of at least ${NATURE_MIN_SIDE}x${NATURE_MIN_SIDE}; ${config.env} gives ${obsShape.slice(0, 2).join('x')}: use --arch minatar (or auto)`,
    );
  }
  return { kind, arch, coordconvAt: config.coordconvAt, withR: config.withR };
}

/** The time (UTC) as 20261201-094332, for directory and file names. */
function timeStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

function defaultRunDir(config: RunConfig): string {
  const stamp = timeStamp();
  const env = config.env.replace(/[^A-Za-z0-9]+/g, '').toLowerCase();
  return path.resolve('runs', `${config.algo}-${env}-${config.torso}-s${config.seed}-${stamp}`);
}

/** What a run (or its latest resume) ran on, for the A/B report: versions.json in the run directory. */
export interface RunVersions {
  coordrl: string;
  node: string;
  tfjs: string;
  tensorflow: string | null;
  backend: string;
  device: string;
  /** The env server's Python packages (python, gymnasium, ale_py, numpy, ...), from its hello. */
  envServer?: Record<string, string>;
  /** The exact code (git commit and dirty flag, else the version and a hash of dist/); absent in older runs. */
  code?: CodeVersion;
  /** CPU, cores and thread settings of the machine; absent in older runs. */
  machine?: MachineInfo;
}

export const RUN_VERSIONS_FILE = 'versions.json';

function writeRunVersions(runDir: string, b: BackendInfo, envServer: Record<string, string> | null): void {
  const v: RunVersions = {
    coordrl: PACKAGE_VERSION,
    node: process.versions.node,
    tfjs: b.tfjsVersion,
    tensorflow: b.tensorflowVersion,
    backend: b.backend,
    device: b.device,
    ...(envServer ? { envServer } : {}),
    code: codeVersion(),
    machine: machineInfo(),
  };
  writeJsonAtomic(path.join(runDir, RUN_VERSIONS_FILE), v);
}

const runFileSchema = z.object({
  coordrl: z.string(),
  createdAt: z.string(),
  config: runConfigSchema,
  budgetSteps: z.number().int().positive().max(MAX_COUNT),
  frameSkip: z.number().int().positive().max(1000),
});

export function readRunFile(runDir: string): RunFile {
  const file = path.join(runDir, 'config.json');
  if (!existsSync(file)) throw new UsageError(`${runDir} is not a run directory (no config.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserFacingError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const algo = (raw as { config?: { algo?: unknown } } | null)?.config?.algo;
  const known = ALGOS.includes(algo as Algo) ? runConfigKeys(algo as Algo) : [];
  return validate(runFileSchema, raw, file, known);
}

function makeAgent(config: RunConfig, ctx: AgentContext): TrainableAgent {
  return createAgent(ctx, config);
}

/** Parameters of the torso (as built for `shape`) plus linear heads of `outputs` units in all. */
function networkParams(torso: TorsoOptions, shape: readonly number[], outputs: number): number {
  const input = tf.input({ shape: [...shape] });
  const m = tf.model({ inputs: input, outputs: applyTorso(input, torso) });
  const features = m.outputs[0].shape.at(-1) ?? 0;
  const n = m.countParams() + (features + 1) * outputs;
  m.dispose();
  return n;
}

/** Atari observations as the env server makes them by default: 84x84 grey frames, 4 stacked. */
const ATARI_OBS: ObsSpace = { shape: [84, 84, 4], dtype: 'uint8' };

function runEstimate(config: RunConfig, obs: ObsSpace, actions: number): MemoryEstimate {
  const torso = resolveTorso(config, obs.shape);
  return estimateRunMemory(config, obs, networkParams(torso, obs.shape, actions + 1));
}

/**
 * The backend and the env of a run, once its memory estimate fits: checked before the envs are
 * made where the observations are known (Atari), and again with the env's real spaces.
 */
async function openRunEnv(config: RunConfig): Promise<{ backend: BackendInfo; env: AgentEnv }> {
  const backend = await initBackend(config.backend);
  if (isAtari(config.env)) checkRunMemory(config, runEstimate(config, ATARI_OBS, 18));
  const env = await createEnv(config, config.numEnvs, { groups: trainingEnvGroups(config) });
  try {
    checkRunMemory(config, runEstimate(config, env.observationSpace, env.actionSpace.n));
    return { backend, env };
  } catch (e) {
    await closeEnv(env);
    throw e;
  }
}

/** Parameter counts, budget and memory estimate without touching the environment server for long. */
export async function describeRun(config: RunConfig): Promise<{
  torso: string;
  network: string;
  params: Record<string, number>;
  budgetSteps: number;
  budgetFrames: number;
  memory: MemoryEstimate & { lines: string[] };
}> {
  await initBackend(config.backend);
  const spaces = await probeEnvSpaces(config);
  const torso = resolveTorso(config, spaces.observationSpace.shape);
  const params: Record<string, number> = {};
  for (const kind of torso.kind === 'mlp' ? (['mlp'] as const) : (['conv', 'coordconv'] as const)) {
    const input = tf.input({ shape: [...spaces.observationSpace.shape] });
    const m = tf.model({ inputs: input, outputs: applyTorso(input, { ...torso, kind }) });
    params[`${kind} torso`] = m.countParams();
    m.dispose();
  }
  const steps = defaultBudget(config);
  const memory = runEstimate(config, spaces.observationSpace, spaces.actionSpace.n);
  return {
    torso: torso.kind,
    network: describeTorso(torso),
    params,
    budgetSteps: steps,
    budgetFrames: steps * frameSkipFor(config.env),
    memory: { ...memory, lines: describeEstimate(memory) },
  };
}

export async function startRun(
  config: RunConfig,
  opts: { runDir?: string; progress?: boolean; stopAt?: number },
): Promise<RunResult> {
  const runDir = opts.runDir ?? defaultRunDir(config);
  if (existsSync(path.join(runDir, 'config.json'))) {
    throw new UsageError(
      `${runDir} already holds a run; continue it with \`coordrl resume ${runDir}\` or pick another --run-dir`,
    );
  }
  refuseCheckpointsWithoutConfig(runDir);
  // Nothing is written before the directory, the env and the memory estimate are known to be good.
  checkRunDirUsable(runDir, opts.runDir ? '--run-dir' : 'the run directory');
  const { backend, env } = await openRunEnv(config);
  const frameSkip = frameSkipFor(config.env);
  const run: RunFile = {
    coordrl: PACKAGE_VERSION,
    createdAt: new Date().toISOString(),
    config,
    budgetSteps: defaultBudget(config),
    frameSkip,
  };
  let lock: DirLock;
  try {
    lock = lockNewRunDir(runDir);
  } catch (e) {
    await closeEnv(env);
    throw e;
  }
  try {
    try {
      writeJsonAtomic(path.join(runDir, 'config.json'), run);
    } catch (e) {
      await closeEnv(env);
      throw new UsageError(`cannot write the run directory ${runDir}: ${describeFsError(e)}`);
    }
    note(`run directory: ${runDir}`);
    return await execute(runDir, run, backend, env, null, opts.progress ?? true, opts.stopAt);
  } finally {
    lock.release();
  }
}

// ---- one trainer per run directory (src/util/dir-lock.ts) ----

/** Takes the run's lock; a note when it replaced the lock of a trainer that died. */
function lockRun(runDir: string, command: string): DirLock {
  let lock: DirLock;
  try {
    lock = acquireDirLock(runDir, { command, label: runDir });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`run directory ${runDir}: cannot take its lock: ${describeFsError(e)}`);
  }
  const took = tookOverNote(lock, runDir);
  if (took) note(took);
  return lock;
}

/** `train`: makes the directory and takes its lock; refuses when another train got there first. */
function lockNewRunDir(runDir: string): DirLock {
  try {
    mkdirSync(runDir, { recursive: true });
  } catch (e) {
    throw new UsageError(`cannot write the run directory ${runDir}: ${describeFsError(e)}`);
  }
  const lock = lockRun(runDir, 'coordrl train');
  if (existsSync(path.join(runDir, 'config.json'))) {
    lock.release();
    throw new UsageError(
      `${runDir} already holds a run; continue it with \`coordrl resume ${runDir}\` or pick another --run-dir`,
    );
  }
  return lock;
}

/**
 * A directory with checkpoints but no config.json (lost or deleted) is not a place for a new run:
 * training there from step 0 would write over good checkpoints.
 */
function refuseCheckpointsWithoutConfig(runDir: string): void {
  if (!existsSync(path.join(runDir, 'checkpoints'))) return;
  throw new UsageError(
    `${runDir} has checkpoints but no config.json; a new run there would overwrite them: restore config.json (then \`coordrl resume ${runDir}\`) or pick another --run-dir`,
  );
}

/**
 * Writes config.json again for a run directory that lost it but kept its checkpoints, from the
 * run configuration it was created from (an A/B experiment keeps each run's): the same file
 * `train` writes, so that `resume` continues from the checkpoints instead of starting over.
 */
export function recoverRunFile(runDir: string, config: RunConfig): RunFile {
  const run: RunFile = {
    coordrl: PACKAGE_VERSION,
    createdAt: new Date().toISOString(),
    config,
    budgetSteps: defaultBudget(config),
    frameSkip: frameSkipFor(config.env),
  };
  writeJsonAtomic(path.join(runDir, 'config.json'), run);
  return run;
}

/** A new budget given to `resume` (--steps or --frames), checked against the checkpoint's step. */
interface NewBudget {
  steps: number;
  flag: string;
}

export async function resumeRun(
  runDir: string,
  opts: { frames?: number; steps?: number; progress?: boolean; stopAt?: number },
): Promise<RunResult> {
  const run = readRunFile(runDir);
  if (opts.frames !== undefined && opts.steps !== undefined) {
    throw new UsageError('--frames and --steps both set the new budget; give only one');
  }
  const budget: NewBudget | null =
    opts.steps !== undefined
      ? { steps: opts.steps, flag: `--steps ${opts.steps}` }
      : opts.frames !== undefined
        ? { steps: Math.ceil(opts.frames / run.frameSkip), flag: `--frames ${opts.frames}` }
        : null;
  checkRunDirUsable(runDir, 'run directory');
  // Taken before anything is written or the env is started: a second resume leaves at once.
  const lock = lockRun(runDir, 'coordrl resume');
  try {
    const { backend, env } = await openRunEnv(run.config);
    return await execute(runDir, run, backend, env, { budget }, opts.progress ?? true, opts.stopAt);
  } finally {
    lock.release();
  }
}

/** Moves the curves of a run that restarts from step 0 aside, so old and new never mix. */
function setAsideCurves(runDir: string): string[] {
  const stamp = timeStamp();
  const moved: string[] = [];
  for (const [name, aside] of [
    ['metrics.jsonl', `metrics.before-restart-${stamp}.jsonl`],
    ['tensorboard', `tensorboard.before-restart-${stamp}`],
  ]) {
    if (!existsSync(path.join(runDir, name))) continue;
    renameSync(path.join(runDir, name), path.join(runDir, aside));
    moved.push(aside);
  }
  return moved;
}

/**
 * Trains a run whose env is open (and closes it). `resume`: continue from the newest checkpoint
 * that loads completely, setting unusable ones aside; from step 0 when none does.
 */
async function execute(
  runDir: string,
  run: RunFile,
  backend: BackendInfo,
  env: AgentEnv,
  resume: { budget: NewBudget | null } | null,
  showProgress: boolean,
  stopAt?: number,
): Promise<RunResult> {
  const { config } = run;
  for (const w of backend.warnings) note(`warning: ${w}`);
  writeRunVersions(runDir, backend, envServerVersions(env));
  const counters: TrainerCounters = { steps: 0, frames: 0, updates: 0, wallSeconds: 0 };
  let episodes = new EpisodeStats();
  // Finished episodes also go to TensorBoard (charts/episodic_return) once the logger exists.
  let episodeSink: ((score: number, length: number) => void) | null = null;
  const onEpisode = (score: number, length: number) => episodeSink?.(score, length);
  let onStep = episodeHook(episodes, () => counters.steps, onEpisode);
  const rng = new Rng(config.seed);
  let segment = 0;
  let resumedFrom: string | null = null;
  const stop = new StopSignal().install();
  let agent: TrainableAgent | null = null;
  try {
    // The agent's graphs are keyed on its env: their precision is set before the agent builds them.
    setCompiledPrecision(env, usablePrecision(config.precision));
    const ctx: AgentContext = {
      env,
      rng,
      seeds: { init: config.seed },
      torso: resolveTorso(config, env.observationSpace.shape),
      progress: () => Math.min(1, counters.steps / run.budgetSteps),
      onStep: (step) => onStep(step),
    };
    agent = makeAgent(config, ctx);
    if (resume) {
      // Every part (networks, optimizer, replay, state) loads inside the fallback.
      const loaded = await loadRunCheckpoint(runDir, { agent, config });
      for (const s of loaded.skipped) note(`skipping checkpoint ${s.name}: ${s.reason}`);
      if (loaded.state) {
        Object.assign(counters, loaded.state.counters);
        episodes = EpisodeStats.fromJSON(loaded.state.episodes);
        onStep = episodeHook(episodes, () => counters.steps, onEpisode);
        rng.setState(loaded.state.rng);
        segment = loaded.state.segment + 1;
        resumedFrom = loaded.name;
      } else if (loaded.skipped.length) {
        // A failed load may have filled part of the agent: start from a fresh one.
        agent.dispose();
        agent = makeAgent(config, ctx);
      }
      if (resume.budget) {
        if (resume.budget.steps < counters.steps) {
          throw new UsageError(
            `${resume.budget.flag} is below the run's current step ${counters.steps.toLocaleString('en-US')} (checkpoint ${loaded.name}); give a larger budget`,
          );
        }
        run.budgetSteps = resume.budget.steps;
        writeJsonAtomic(path.join(runDir, 'config.json'), run);
      }
      const aside = await setAsideCheckpoints(runDir, loaded.skipped);
      if (aside) note(`moved ${loaded.skipped.length} unusable checkpoint(s) to ${aside} (kept for inspection)`);
      if (loaded.state) {
        note(`resuming from checkpoint ${loaded.name} (step ${counters.steps})`);
      } else {
        const moved = setAsideCurves(runDir);
        note(
          `no good checkpoint: starting this run from the beginning${moved.length ? `; the old curves are kept as ${moved.join(' and ')}` : ''}`,
        );
      }
    }
    // Env seeds depend on the run seed and the step, so an uninterrupted run that resets its envs
    // at a checkpoint (exactResume) and a run resumed from that checkpoint see the same episodes.
    await agent.resetEnvs(envSeedAt(config.seed, counters.steps));
    const metrics = new MetricsLogger(runDir, { resumeStep: resumedFrom ? counters.steps : undefined });
    episodeSink = (score, length) => metrics.episode(score, length, counters.steps);
    const a = agent;
    if (resumedFrom) stop.lastCheckpoint = resumedFrom;
    const save = async (reason: string) => {
      if (config.exactResume && reason !== 'signal') await a.resetEnvs(envSeedAt(config.seed, counters.steps));
      const name = await saveRunCheckpoint(runDir, {
        agent: a,
        counters,
        episodes,
        rng,
        segment,
        keep: config.keepCheckpoints,
        config,
      });
      stop.lastCheckpoint = name;
      if (reason !== 'periodic') note(`checkpoint saved: ${name} (${reason})`);
    };
    let reason: StopReason;
    try {
      reason = await runTraining(
        {
          agent,
          budgetSteps: run.budgetSteps,
          stopAt,
          frameSkip: run.frameSkip,
          logEvery: config.logEvery ?? defaultLogEvery(run.budgetSteps),
          checkpointEvery: config.checkpointEvery,
          metrics,
          episodes,
          counters,
          save,
          label: `${config.algo} ${config.torso} ${config.env}`,
          showProgress,
          extraScalars: () => ({ envRestarts: envRestarts(env) }),
        },
        stop,
      );
    } catch (e) {
      if (e instanceof NonFiniteLossError) {
        throw new UserFacingError(
          `training stopped at step ${counters.steps}: ${e.message}. The last good checkpoint is kept (coordrl info ${runDir}).`,
        );
      }
      throw e;
    }
    const mean = episodes.count() ? episodes.meanScore() : null;
    return {
      runDir,
      stopReason: reason,
      steps: counters.steps,
      frames: counters.frames,
      updates: counters.updates,
      episodes: episodes.episodes,
      meanScore: mean,
      wallSeconds: counters.wallSeconds,
      backend: backend.backend,
      device: backend.device,
      summary: `${{ signal: 'stopped', paused: 'paused', budget: 'finished' }[reason]} at step ${counters.steps.toLocaleString()} (${counters.frames.toLocaleString()} frames) after ${trainedFor(counters.wallSeconds)}; ${mean === null ? 'no episode finished, so no score (a longer budget or more envs gives one)' : `${episodes.episodes} episodes, recent mean score ${mean.toFixed(2)}`}. Run: ${runDir}`,
    };
  } finally {
    stop.uninstall();
    agent?.dispose();
    await closeEnv(env);
  }
}

/** How evaluation picks actions (`coordrl eval --policy`). */
export type EvalPolicy = 'greedy' | 'sample';

export interface EvalResult {
  env: string;
  /** The checkpoint played (its directory name) and its step. */
  checkpoint: string;
  checkpointStep: number;
  episodes: number;
  numEnvs: number;
  /** Episodes counted per env (env i: floor((episodes + i) / numEnvs), as SB3's evaluate_policy). */
  quota: number[];
  seed: number;
  /** greedy: the agent's best action (with `epsilon` noise); sample: actions drawn from its policy. */
  policy: EvalPolicy;
  epsilon: number;
  /** Raw scores in the order the counted episodes finished. */
  scores: number[];
  mean: number;
  std: number;
  median: number;
  min: number;
  max: number;
  /** Episode lengths in agent steps and in frames (steps x frame skip). */
  lengthSteps: Spread;
  lengthFrames: Spread;
  perEpisode: EvalEpisode[];
}

/**
 * Plays the saved policy greedily with raw scores, full games (no life-loss signal), no clipping,
 * a fixed episode quota per env (see evaluation.ts). `checkpoint` picks one by name or step
 * (default: the newest good one).
 */
export async function evaluateRun(
  runDir: string,
  opts: {
    episodes: number;
    numEnvs: number;
    seed?: number;
    epsilon?: number;
    checkpoint?: string;
    policy?: EvalPolicy;
  },
): Promise<EvalResult> {
  const run = readRunFile(runDir);
  const config = { ...run.config, lifeLoss: false };
  // The backend first: checking a checkpoint loads its networks, which would otherwise start tfjs's
  // pure-JS backend.
  await initBackend(config.backend);
  const chosen = opts.checkpoint
    ? await loadNamedRunCheckpoint(runDir, opts.checkpoint)
    : await loadRunCheckpoint(runDir);
  if (!chosen.state || !chosen.name) throw noGoodCheckpointError(runDir, { skipped: [], ...chosen }, 'evaluate');
  const state = chosen.state;
  const numEnvs = Math.min(opts.numEnvs, opts.episodes);
  const env = await createEnv(config, numEnvs, { lifeLossFire: run.config.lifeLoss && run.config.lifeLossFire });
  try {
    const seed = opts.seed ?? 1_000_003 + config.seed;
    const rng = new Rng(opts.seed ?? config.seed); // epsilon noise
    // Evaluation needs the network only: the algorithm's evaluation configuration (DQN: a small replay).
    const agent = makeAgent(algorithm(config.algo).evaluation.config(config), {
      env,
      rng,
      seeds: { init: config.seed },
      torso: resolveTorso(config, env.observationSpace.shape),
      progress: () => 1,
      onStep: () => {},
    });
    try {
      await restoreForEval(state, agent, { runDir, checkpoint: chosen.name, config: run.config });
      const eps = opts.epsilon ?? 0;
      const nA = env.actionSpace.n;
      const policy = opts.policy ?? 'greedy';
      const sample = policy === 'sample' ? agent.sampleActions?.bind(agent) : undefined;
      if (policy === 'sample' && !sample) {
        throw new UsageError(
          `--policy sample needs an agent with a stochastic policy (${samplingAlgorithms().join(', ')}); ${config.algo}'s evaluation is greedy, with --epsilon for noise`,
        );
      }
      const choose = sample
        ? (obs: Uint8Array | Float32Array) => sample(obs, numEnvs, rng)
        : (obs: Uint8Array | Float32Array) =>
            agent.act(obs, numEnvs).map((a) => (eps > 0 && rng.next() < eps ? rng.int(nA) : a));
      const perEpisode = await playEpisodes(env, choose, { episodes: opts.episodes, seed, frameSkip: run.frameSkip });
      const scores = perEpisode.map((e) => e.score);
      return {
        env: config.env,
        checkpoint: chosen.name,
        checkpointStep: state.counters.steps,
        episodes: scores.length,
        numEnvs,
        quota: episodeQuota(opts.episodes, numEnvs),
        seed,
        policy,
        epsilon: eps,
        scores,
        ...spread(scores),
        lengthSteps: spread(perEpisode.map((e) => e.steps)),
        lengthFrames: spread(perEpisode.map((e) => e.frames)),
        perEpisode,
      };
    } finally {
      agent.dispose();
    }
  } finally {
    await closeEnv(env);
  }
}

/** Settings that shape the networks: a checkpoint saved with others cannot be played. */
const NETWORK_FIELDS = ['algo', 'env', 'torso', 'arch', 'coordconvAt', 'withR', 'fullActionSpace', 'dueling'] as const;

/**
 * Loads a checkpoint's networks for evaluation; a checkpoint that does not fit config.json (edited
 * after training, e.g. another env) is one line naming the setting, not a weight-shape error.
 */
async function restoreForEval(
  state: RunCheckpointState,
  agent: TrainableAgent,
  where: { runDir: string; checkpoint: string; config: RunConfig },
): Promise<void> {
  const now = where.config as Record<string, unknown>;
  const differs = state.config
    ? NETWORK_FIELDS.find((k) => k in state.config! && JSON.stringify(state.config![k]) !== JSON.stringify(now[k]))
    : undefined;
  const mismatch = (detail: string) =>
    new UsageError(
      `checkpoint ${where.checkpoint} does not match ${path.join(where.runDir, 'config.json')}: ${detail}; put config.json back as it was trained`,
    );
  if (differs) {
    throw mismatch(
      `'${differs}' is ${JSON.stringify(now[differs])} in config.json, ${JSON.stringify(state.config?.[differs])} in the checkpoint`,
    );
  }
  try {
    await state.restoreAgent(agent, { modelsOnly: true });
  } catch (e) {
    throw mismatch(`its networks do not fit the config's env ${where.config.env} (${(e as Error).message})`);
  }
}

export interface RunInfo {
  runDir: string;
  config: RunConfig;
  budgetSteps: number;
  steps: number;
  frames: number;
  lastMetrics: Record<string, number> | null;
  checkpoints: { name: string; step: number | null; status: string }[];
  /** What the checkpoints' statuses rest on (INFO_CHECKS). */
  checks: typeof INFO_CHECKS;
  summary: string;
}

export async function runInfo(runDir: string): Promise<RunInfo> {
  const run = readRunFile(runDir);
  // The checks resume runs (networks are loaded: the backend first, as for eval).
  await initBackend(run.config.backend);
  const checkpoints = await checkRunCheckpoints(runDir, run.config);
  const metrics = readMetrics(path.join(runDir, 'metrics.jsonl'));
  const last = metrics.at(-1) ?? null;
  const newestGood = checkpoints.find((c) => c.status === 'ok');
  const steps = Math.max(newestGood?.step ?? 0, last?.step ?? 0);
  const lines = [
    `${run.config.algo} on ${run.config.env}, torso ${run.config.torso}, seed ${run.config.seed}`,
    `progress: ${steps.toLocaleString()} / ${run.budgetSteps.toLocaleString()} steps (${(steps * run.frameSkip).toLocaleString()} frames)`,
    last
      ? `last metrics: score ${Number.isNaN(last.score) ? '-' : last.score?.toFixed(2)}, ${Math.round(last.sps ?? 0)} steps/s`
      : 'no metrics yet',
    `checkpoints (checked: ${INFO_CHECKS.checked}; not checked: ${INFO_CHECKS.notChecked}):`,
    ...(checkpoints.length ? checkpoints.map((c) => `  ${c.name}  ${c.status}`) : ['  none']),
  ];
  return {
    runDir,
    config: run.config,
    budgetSteps: run.budgetSteps,
    steps,
    frames: steps * run.frameSkip,
    lastMetrics: last,
    checkpoints,
    checks: INFO_CHECKS,
    summary: lines.join('\n'),
  };
}

/**
 * The training time of a run's summary line, with the command's own time beside it when start-up
 * (env server, graph building, checkpoint checks) took a while: a Ctrl-C a minute after starting
 * should not read "after 6 s" alone.
 */
function trainedFor(wallSeconds: number): string {
  const total = process.uptime();
  const trained = `${wallSeconds.toFixed(0)} s`;
  return total > wallSeconds + 5 ? `${trained} of training (${total.toFixed(0)} s since the command started)` : trained;
}
