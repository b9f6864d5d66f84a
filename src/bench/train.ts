// `coordrl bench train`: env steps per second of a real training loop (env stepping through the
// bridge, batched inference, updates), measured after a warm-up.

import type { BridgeVecEnv } from '../../envs/index.js';
import type { AgentContext, TrainableAgent } from '../agent.js';
import { type Algo, algorithm, createAgent } from '../algorithms/registry.js';
import { initBackend } from '../backend.js';
import type { Precision } from '../compiled/precision.js';
import { setCompiledPrecision, usablePrecision } from '../compiled/runtime.js';
import { resolveRunConfig } from '../run-config.js';
import { closeEnv, createEnv, trainingEnvGroups } from '../training/env-factory.js';
import { resolveTorso } from '../training/run.js';
import { note } from '../util/output.js';
import { Rng } from '../util/rng.js';
import { formatStepProfile, type StepProfile, startStepProfile } from './step-profile.js';

export interface TrainBenchResult {
  algo: string;
  env: string;
  torso: string;
  numEnvs: number;
  /** Env groups stepped in turn (A2C's pipelined rollout: 2; otherwise 1). */
  envGroups: number;
  backend: string;
  device: string;
  seconds: number;
  envSteps: number;
  envStepsPerSec: number;
  updates: number;
  updatesPerSec: number;
  /** With --profile: where each env step went (the timers themselves add ~1 us per step). */
  profile?: StepProfile;
  /** The compiled graphs' precision as run (bf16 falls back to fp32 where it cannot run). */
  precision: Precision;
}

export interface BenchTrainOptions {
  algo: Algo;
  env: string;
  torso: string;
  seconds: number;
  warmup: number;
  numEnvs?: number;
  learningStarts: number;
  /** a2c: the pipelined rollout (--pipeline) on or off; unset: the run default (off). */
  pipeline?: boolean;
  /** Called when measuring starts, after the warm-up, and when it ends (profilers: `bench rollout`). */
  onMeasureStart?: (agent: TrainableAgent, env: BridgeVecEnv) => void;
  onMeasureEnd?: () => void;
  profile?: boolean;
  precision?: Precision;
}

export async function benchTrain(opts: BenchTrainOptions): Promise<TrainBenchResult> {
  const flags: Record<string, unknown> = { algo: opts.algo, env: opts.env, torso: opts.torso };
  if (opts.numEnvs !== undefined) flags.numEnvs = opts.numEnvs;
  const own = algorithm(opts.algo).hyperparameters.shape;
  if ('learningStarts' in own) flags.learningStarts = opts.learningStarts;
  if ('pipeline' in own && opts.pipeline !== undefined) flags.pipeline = opts.pipeline;
  if (opts.precision !== undefined) flags.precision = opts.precision;
  const config = resolveRunConfig(flags);
  const info = await initBackend(config.backend);
  const env = await createEnv(config, config.numEnvs, { groups: trainingEnvGroups(config) });
  const precision = usablePrecision(config.precision);
  setCompiledPrecision(env, precision);
  let agent: TrainableAgent | null = null;
  try {
    const ctx: AgentContext = {
      env,
      rng: new Rng(config.seed),
      seeds: { init: config.seed },
      torso: resolveTorso(config, env.observationSpace.shape),
      // Schedules as at the start of a long run.
      progress: () => 0,
      onStep: () => {},
    };
    agent = createAgent(ctx, config);
    await agent.resetEnvs(config.seed);
    // Warm-up: kernels compiled, replay past learningStarts, caches hot.
    const warmEnd = performance.now() + opts.warmup * 1000;
    let warmSteps = 0;
    const randomSteps = algorithm(config.algo).stepsBeforeLearning(config);
    while (performance.now() < warmEnd || warmSteps < randomSteps) {
      warmSteps += (await agent.iterate()).envSteps;
    }
    note(`warm-up done (${warmSteps} steps); measuring for ${opts.seconds} s${opts.profile ? ' (profiled)' : ''}`);
    opts.onMeasureStart?.(agent, env);
    const profiler = opts.profile ? await startStepProfile(agent, env) : null;
    let steps = 0;
    let updates = 0;
    const t0 = performance.now();
    const end = t0 + opts.seconds * 1000;
    while (performance.now() < end) {
      const it = await agent.iterate();
      steps += it.envSteps;
      updates += it.updates;
    }
    const elapsed = (performance.now() - t0) / 1000;
    opts.onMeasureEnd?.();
    const profile = profiler ? await profiler.finish(steps, elapsed * 1000) : undefined;
    return {
      algo: config.algo,
      env: config.env,
      torso: config.torso,
      numEnvs: config.numEnvs,
      envGroups: trainingEnvGroups(config),
      backend: info.backend,
      device: info.device,
      seconds: elapsed,
      envSteps: steps,
      envStepsPerSec: steps / elapsed,
      updates,
      updatesPerSec: updates / elapsed,
      ...(profile ? { profile } : {}),
      precision,
    };
  } finally {
    agent?.dispose();
    await closeEnv(env);
  }
}

export function formatBenchTrain(r: TrainBenchResult): string {
  return `${r.algo} on ${r.env} (${r.torso}, ${r.numEnvs} envs in ${r.envGroups} group(s), ${r.backend}/${r.device}, ${r.precision}): ${r.envStepsPerSec.toFixed(0)} env steps/s, ${r.updatesPerSec.toFixed(1)} updates/s over ${r.seconds.toFixed(1)} s${r.profile ? `\n${formatStepProfile(r.profile)}` : ''}`;
}
