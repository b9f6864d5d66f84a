// What the agents share: the contract with the trainer, and the policy network (torso + heads)
// with batched inference. The algorithms themselves live in agents/<algo>.ts.
import { type CompiledForward, compileForward } from './compiled/steps.js';
import { orthogonalInit } from './init/orthogonal.js';
import { torchDefaultInit } from './init/torch-default.js';
import { floatInput } from './native/tf-native.js';
import type { ReplayBuffer } from './replay/index.js';
import { tf } from './tf.js';
import { applyTorso, type TorsoOptions } from './torsos.js';
import type { Rng } from './util/rng.js';

/** The parts of a vector environment an agent uses (see envs/ for the real client). */
export interface AgentEnv {
  readonly numEnvs: number;
  readonly observationSpace: {
    shape: readonly number[];
    dtype: 'uint8' | 'float32';
    size: number;
    /** Frames stacked in the channels, where the env says (MinAtar: 1); see ObservationSpace. */
    frameStack?: number;
  };
  readonly actionSpace: { n: number };
  reset(seed?: number): Promise<{ obs: Uint8Array | Float32Array }>;
  step(actions: Int32Array): Promise<AgentStep>;
  /** Sends the actions and returns at once: the envs step while the agent works (then stepWait). */
  stepAsync(actions: Int32Array): void;
  stepWait(): Promise<AgentStep>;
  /**
   * The env slots split into parts that step independently (env groups), in slot order; an
   * on-policy rollout steps them in turn, overlapping one group's step with the actions of the
   * next (src/rollout.ts). Absent: one part.
   */
  readonly groups?: readonly AgentEnv[];
}

export interface AgentStep {
  obs: Uint8Array | Float32Array;
  /** Raw rewards; the agent clips them for training if it wants to. */
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** Final observation of the envs whose episode ended at this step (same-step autoreset). */
  finalObs?: Map<number, Uint8Array | Float32Array>;
  /** Whole games that ended at this step, with their raw score (not clipped, not per life). */
  episodes?: { env: number; score: number; length: number }[];
  /** Env slots whose episode was cut short (env server restarted): not counted as episodes. */
  cutEpisodes?: number[];
  /** An env server was restarted during this step. */
  restarted?: boolean;
  /** Milliseconds the env server spent stepping the envs (profiles). */
  envMs?: number;
}

export interface AgentContext {
  env: AgentEnv;
  rng: Rng;
  seeds: { init: number };
  torso: TorsoOptions;
  /** Fraction of the training budget done, in [0, 1] (for schedules). */
  progress(): number;
  /** The trainer's hook for episode statistics; called after every env step. */
  onStep(step: AgentStep): void;
}

export interface IterationStats {
  envSteps: number;
  updates: number;
  scalars: Record<string, number>;
}

/** Live references to everything a checkpoint needs from an agent (the trainer saves them). */
export interface CheckpointParts {
  models: Record<string, tf.LayersModel>;
  optimizer: tf.Optimizer;
  /** The variables the optimizer updates, in the order its slots follow. */
  varList: tf.Variable[];
  counters: Record<string, number>;
  replay?: ReplayBuffer;
}

/** The phases of an agent's loop that a profiler sees: its own greedy actions, one gradient update. */
export type AgentPhase = 'act' | 'update';

/**
 * Instrumentation of an agent's loop (`coordrl bench train --profile`): set as the agent's
 * `profiler`, it is handed each phase as it runs and must call `fn` once and return its result.
 */
export interface AgentProfiler {
  phase<T>(name: AgentPhase, fn: () => T): T;
}

/** Runs `fn` as phase `name` through `profiler`, or directly when there is none (training). */
export function inPhase<T>(profiler: AgentProfiler | undefined, name: AgentPhase, fn: () => T): T {
  return profiler ? profiler.phase(name, fn) : fn();
}

export interface TrainableAgent {
  readonly algo: string;
  /** Unset in training; a benchmark sets it to time the agent's phases. */
  profiler?: AgentProfiler;
  /** Resets every env with `seed` (slot k gets seed + k) and starts new episodes from there. */
  resetEnvs(seed: number): Promise<void>;
  iterate(): Promise<IterationStats>;
  /** Greedy (no exploration) actions for evaluation. */
  act(obs: Uint8Array | Float32Array, n: number): Int32Array;
  /**
   * Actions drawn from the policy itself, with `rng` (agents with a stochastic policy: A2C). For
   * evaluating the policy as it was trained: a greedy actor-critic policy can play far worse.
   */
  sampleActions?(obs: Uint8Array | Float32Array, n: number, rng: { next(): number }): Int32Array;
  checkpointParts(): CheckpointParts;
  /** After models and optimizer were restored in place: the agent's own counters (and buffer). */
  restoreCounters(counters: Record<string, number>, replay?: ReplayBuffer): void;
  dispose(): void;
}

export interface HeadSpec {
  name: string;
  units: number;
  /** Orthogonal-init gain of this head's kernel. */
  gain: number;
}

/**
 * Torso + linear heads as one tfjs LayersModel (saved and loaded as a whole), with SB3's
 * orthogonal initialisation (gain sqrt(2) in the torso, per-head gains on the heads) or, with
 * `init: 'torch'`, PyTorch's default one (what SB3's DQN uses).
 */
export class PolicyNetwork {
  readonly model: tf.LayersModel;
  readonly heads: HeadSpec[];
  private readonly inputShape: number[];
  private readonly obsDtype: 'uint8' | 'float32';
  /** The agent's compiled graph is keyed on its env (one graph for all of an agent's networks). */
  readonly graphOwner: object;
  /** Inference as one TensorFlow graph run (null: eager tfjs; undefined: not tried yet). */
  private compiled: CompiledForward | null | undefined;

  constructor(
    ctx: Pick<AgentContext, 'env' | 'torso' | 'seeds'>,
    spec: { heads: HeadSpec[]; name?: string; init?: 'orthogonal' | 'torch' },
  ) {
    this.inputShape = [...ctx.env.observationSpace.shape];
    this.obsDtype = ctx.env.observationSpace.dtype;
    this.graphOwner = ctx.env;
    this.heads = spec.heads;
    const input = tf.input({ shape: this.inputShape, name: 'obs' });
    const features = applyTorso(input, ctx.torso, 'torso');
    const outputs = spec.heads.map(
      (h) => tf.layers.dense({ units: h.units, name: h.name }).apply(features) as tf.SymbolicTensor,
    );
    this.model = tf.model({ inputs: input, outputs, name: spec.name ?? 'policy' });
    const torsoLayers = this.model.layers.filter((l) => l.name.startsWith('torso_'));
    if (spec.init === 'torch') {
      torchDefaultInit([...torsoLayers, ...spec.heads.map((h) => this.model.getLayer(h.name))], ctx.seeds.init);
      return;
    }
    orthogonalInit(torsoLayers, Math.SQRT2, ctx.seeds.init);
    spec.heads.forEach((h, i) => {
      orthogonalInit([this.model.getLayer(h.name)], h.gain, ctx.seeds.init + 1000 * (i + 1));
    });
  }

  /** Observations (batch x obs size, env layout) as a float32 input tensor. */
  input(obs: Uint8Array | Float32Array, batch: number): tf.Tensor {
    return floatInput(obs, [batch, ...this.inputShape]);
  }

  /** Inference: one forward pass for the whole batch; returns each head's outputs. */
  forward(obs: Uint8Array | Float32Array, batch: number): Record<string, Float32Array> {
    if (this.compiled === undefined) {
      this.compiled = compileForward(this.graphOwner, this, this.inputShape, this.obsDtype);
    }
    if (this.compiled) {
      const values = this.compiled.run(obs, batch);
      return Object.fromEntries(this.heads.map((h, i) => [h.name, values[i]]));
    }
    const outs = tf.tidy(() => {
      const y = this.model.apply(this.input(obs, batch), { training: false }) as tf.Tensor | tf.Tensor[];
      return Array.isArray(y) ? y : [y];
    });
    const result: Record<string, Float32Array> = {};
    this.heads.forEach((h, i) => {
      result[h.name] = outs[i].dataSync() as Float32Array;
    });
    tf.dispose(outs);
    return result;
  }

  /** Training-mode application inside a gradient tape. */
  apply(x: tf.Tensor): tf.Tensor[] {
    const y = this.model.apply(x, { training: true });
    return Array.isArray(y) ? (y as tf.Tensor[]) : [y as tf.Tensor];
  }

  /** The trainable variables in a fixed order (optimizer slots are matched by position). */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Greedy actions: each row's largest value (defined with the categorical distribution). */
/** The index of each row's largest value (the first on ties): greedy actions. */
export function argMaxRows(values: Float32Array, rows: number): Int32Array {
  const cols = values.length / rows;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (values[r * cols + j] > values[r * cols + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Training diverged: the trainer stops and keeps the last good checkpoint. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(readonly scalars: Record<string, number>) {
    super(
      `loss became ${scalars.loss} (${Object.entries(scalars)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}); lower the learning rate or check the rewards`,
    );
  }
}
