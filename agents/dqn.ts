// DQN (Mnih et al. 2015) with the usual options (Double DQN, dueling head, n-step returns), one
// file top to bottom: hyperparameters, loss (and its compiled update), then the agent (network,
// rollout, update). Defaults are
// Stable-Baselines3's tuned Atari settings (rl-baselines3-zoo dqn.yml); on MinAtar a preset
// (src/algorithms/dqn.ts) gives the MinAtar paper's settings instead.
import { z } from 'zod';
import {
  type AgentContext,
  type AgentProfiler,
  argMaxRows,
  type CheckpointParts,
  type IterationStats,
  inPhase,
  NonFiniteLossError,
  PolicyNetwork,
  type TrainableAgent,
} from '../src/agent.js';
import { preferXla } from '../src/compiled/runtime.js';
import { type CompilableNet, type CompiledUpdate, compileUpdate } from '../src/compiled/steps.js';
import { MAX_COUNT, MAX_ENVS } from '../src/config.js';
import { eagerOps } from '../src/ops/eager-ops.js';
import { clipNamedByGlobalNorm, readScalars } from '../src/ops/grads.js';
import type { LossOutputs, Ops } from '../src/ops/ops.js';
import { FusedAdam } from '../src/optim/adam.js';
import { CenteredRMSprop } from '../src/optim/centered-rmsprop.js';
import type { SlotOptimizer } from '../src/optim/slot-optimizer.js';
import { makeReplayBuffer, type ReplayBuffer } from '../src/replay/index.js';
import { tf } from '../src/tf.js';

// ---------------------------------------------------------------------------------------------
// Hyperparameters
export const dqnSchema = z
  .object({
    numEnvs: z.number().int().positive().max(MAX_ENVS).default(1).describe('parallel environments'),
    bufferSize: z.number().int().positive().max(1_000_000).default(100_000).describe('replay capacity (transitions)'),
    learningStarts: z
      .number()
      .int()
      .nonnegative()
      .max(MAX_COUNT)
      .default(100_000)
      .describe('transitions collected with uniformly random actions before learning (as SB3)'),
    lr: z.number().positive().default(1e-4).describe('learning rate'),
    optimizer: z
      .enum(['adam', 'centered-rmsprop', 'centered-rmsprop-tf'])
      .default('adam')
      .describe(
        'adam; centered-rmsprop (the MinAtar paper: PyTorch form, epsilon outside the root); centered-rmsprop-tf (epsilon inside the root: TensorFlow fused kernel, faster)',
      ),
    rmsDecay: z.number().min(0).max(1).default(0.95).describe('centered RMSprop squared-gradient decay (alpha)'),
    rmsMomentum: z.number().min(0).max(1).default(0.95).describe('centered RMSprop momentum (MinAtar preset: 0)'),
    optimEps: z
      .number()
      .positive()
      .optional()
      .describe('optimizer epsilon (default 1e-8 for adam, 0.01 for the centered RMSprops)'),
    batchSize: z.number().int().positive().default(32).describe('minibatch size'),
    trainFreq: z.number().int().positive().max(MAX_COUNT).default(4).describe('one gradient step every N transitions'),
    targetUpdateInterval: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .default(1000)
      .describe('copy online to target every N transitions'),
    gamma: z.number().min(0).max(1).default(0.99).describe('discount factor'),
    explorationFraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe('fraction of the budget over which epsilon decays (unless --exploration-steps)'),
    explorationSteps: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .optional()
      .describe('decay epsilon over this many transitions after learningStarts (epsilon = epsStart before)'),
    epsStart: z.number().min(0).max(1).default(1.0).describe('initial epsilon'),
    epsEnd: z.number().min(0).max(1).default(0.01).describe('final epsilon'),
    maxGradNorm: z.number().nonnegative().default(10).describe('clip gradients to this global norm (0: no clipping)'),
    double: z.boolean().default(false).describe('Double DQN targets'),
    dueling: z.boolean().default(false).describe('dueling value/advantage head'),
    nStep: z.number().int().positive().max(100).default(1).describe('n-step returns'),
    clipRewards: z.boolean().default(true).describe('train on sign(reward) (scores stay raw)'),
    init: z
      .enum(['orthogonal', 'torch'])
      .default('orthogonal')
      .describe("network initialisation: orthogonal (as SB3's A2C) or torch (PyTorch's default, as SB3's DQN)"),
  })
  .strict();
export type DQNHyperparams = z.infer<typeof dqnSchema>;

/** Image observations up to MinAtar's largest (seaquest, 10x10x10) use XLA for the compiled graphs. */
const XLA_MAX_OBS_SIZE = 1000;

// ---------------------------------------------------------------------------------------------
// Loss: Huber(Q(s, a), y) with the TD target y = r + gamma^n (1 - done) Q_target(s', a*), a* the
// target's (Double DQN: the online net's) argmax. Written once over src/ops/ops.ts: the eager update
// runs it on tfjs tensors, the compiled update (compileDqnStep below) builds it as graph nodes.

/** Q-values from the network's heads: the Q head, or dueling's V + A - mean(A) from [A, V]. */
export function qFromHeads<T>(ops: Ops<T>, heads: T[], dueling: boolean): T {
  if (!dueling) return heads[0];
  const [adv, value] = heads;
  return ops.add(value, ops.sub(adv, ops.mean(adv, 1, true)));
}

/** The TD target y (no gradient flows into it); discounts are gamma^n of each n-step transition. */
export function dqnTdTarget<T>(
  ops: Ops<T>,
  b: { qNextTarget: T; qNextOnline?: T; rewards: T; dones: T; discounts: T },
  numActions: number,
): T {
  const nextAction = ops.argMax1(b.qNextOnline ?? b.qNextTarget);
  const qNext = ops.sum(ops.mul(b.qNextTarget, ops.oneHot(nextAction, numActions)), 1);
  const notDone = ops.sub(ops.scalar(1), b.dones);
  return ops.stopGradient(ops.add(b.rewards, ops.mul(ops.mul(b.discounts, notDone), qNext)));
}

/** Huber (delta 1, as tf.losses.huberLoss and SB3's smooth_l1) on Q(s, a) against y; reports mean Q(s, a). */
export function dqnLoss<T>(ops: Ops<T>, b: { q: T; actions: T; y: T }, numActions: number): LossOutputs<T> {
  const qA = ops.sum(ops.mul(b.q, ops.oneHot(b.actions, numActions)), 1);
  // 0.5 min(|d|, 1)^2 + (|d| - min(|d|, 1)), mean over the batch.
  const absErr = ops.abs(ops.sub(qA, b.y));
  const quadratic = ops.minimum(absErr, ops.scalar(1));
  const losses = ops.add(ops.mul(ops.scalar(0.5), ops.square(quadratic)), ops.sub(absErr, quadratic));
  const loss = ops.mean(losses, 0);
  return { loss, stats: { meanQ: ops.mean(qA, 0) } };
}

/** What DQN's update reads from a replay batch. */
export interface DqnBatch {
  obs: Uint8Array | Float32Array;
  nextObs: Uint8Array | Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  dones: Float32Array;
  discounts: Float32Array;
}
/** The batch parts, in the order the compiled graph's placeholders are added. */
const DQN_BATCH = {
  obs: 'obs',
  nextObs: 'obs',
  actions: 'int32',
  rewards: 'float32',
  dones: 'float32',
  discounts: 'float32',
} as const;

export interface DqnStepOptions {
  online: CompilableNet;
  target: CompilableNet;
  optimizer: SlotOptimizer;
  obsShape: readonly number[];
  obsDtype: 'uint8' | 'float32';
  numActions: number;
  double: boolean;
  dueling: boolean;
  maxGradNorm: number;
}

/** DQN's update as one graph run (returns loss, gradNorm, meanQ), or null where it runs eagerly. */
export function compileDqnStep(owner: object, o: DqnStepOptions): CompiledDqnStep | null {
  const update = compileUpdate(owner, {
    net: o.online,
    optimizer: o.optimizer,
    maxGradNorm: o.maxGradNorm,
    obsShape: o.obsShape,
    obsDtype: o.obsDtype,
    inputs: DQN_BATCH,
    loss: (ops, b, forward) => {
      const q = (net: CompilableNet, x: typeof b.obs) => qFromHeads(ops, forward(net, x), o.dueling);
      const y = dqnTdTarget(
        ops,
        {
          qNextTarget: q(o.target, b.nextObs),
          qNextOnline: o.double ? q(o.online, b.nextObs) : undefined,
          rewards: b.rewards,
          dones: b.dones,
          discounts: b.discounts,
        },
        o.numActions,
      );
      return dqnLoss(ops, { q: q(o.online, b.obs), actions: b.actions, y }, o.numActions);
    },
  });
  return update && new CompiledDqnStep(update);
}

export class CompiledDqnStep {
  constructor(private readonly update: CompiledUpdate<typeof DQN_BATCH>) {}
  run(b: DqnBatch): Record<string, number> {
    return this.update.run(b, b.actions.length);
  }
}

// ---------------------------------------------------------------------------------------------
// The agent
export class DQN implements TrainableAgent {
  readonly algo = 'dqn';
  readonly online: PolicyNetwork;
  readonly target: PolicyNetwork;
  replay: ReplayBuffer;
  private readonly optimizer: FusedAdam | CenteredRMSprop;
  private obs: Uint8Array | Float32Array | null = null;
  private transitions = 0;
  private updates = 0;
  private pendingUpdates = 0;
  private lastTargetSync = 0;
  /** Scalars of the latest gradient step, reported with every iteration. */
  private lastUpdate: Record<string, number> = {};
  /** Reused sample arrays (about 0.9 MB each for Atari): no allocation per update. */
  private batch: ReturnType<ReplayBuffer['allocBatch']> | null = null;
  /** The update below as one TensorFlow graph run (src/compiled/), or 'eager' where it is not available. */
  private compiledUpdate: CompiledDqnStep | 'eager' | null = null;
  profiler?: AgentProfiler;

  constructor(
    private readonly ctx: AgentContext,
    readonly hp: DQNHyperparams,
  ) {
    const nA = ctx.env.actionSpace.n;
    // MinAtar-sized grids: the compiled graphs run through XLA, which fuses the update's ~340
    // tiny executor nodes into one kernel (about 25% off the MinAtar update, docs/speed.md). Not
    // for flat inputs (CartPole's MLP measured no faster) nor Atari frames (oneDNN's convolutions).
    const { shape } = ctx.env.observationSpace;
    if (shape.length === 3 && shape.reduce((a, b) => a * b, 1) <= XLA_MAX_OBS_SIZE) preferXla(ctx.env);
    // Network: Q head, or dueling value + advantage heads; the target is a copy.
    const heads = hp.dueling
      ? [
          { name: 'advantage', units: nA, gain: 1 },
          { name: 'value', units: 1, gain: 1 },
        ]
      : [{ name: 'q', units: nA, gain: 1 }];
    this.online = new PolicyNetwork(ctx, { heads, name: 'online', init: hp.init });
    this.target = new PolicyNetwork(ctx, { heads, name: 'target', init: hp.init });
    this.target.model.setWeights(this.online.model.getWeights());
    this.optimizer =
      hp.optimizer === 'adam'
        ? new FusedAdam(hp.lr, 0.9, 0.999, hp.optimEps ?? 1e-8)
        : new CenteredRMSprop(
            hp.lr,
            hp.rmsDecay,
            hp.rmsMomentum,
            hp.optimEps ?? 0.01,
            hp.optimizer === 'centered-rmsprop-tf',
          );
    this.replay = makeReplayBuffer({
      observationSpace: ctx.env.observationSpace,
      numEnvs: ctx.env.numEnvs,
      capacity: hp.bufferSize,
      nStep: hp.nStep,
      gamma: hp.gamma,
    });
  }

  epsilon(): number {
    const { epsStart, epsEnd, explorationFraction, explorationSteps, learningStarts } = this.hp;
    let f: number;
    if (explorationSteps !== undefined) {
      // MinAtar paper: epsStart (uniformly random) until learning starts, then linear over explorationSteps.
      f = Math.min(1, Math.max(0, this.transitions - learningStarts) / explorationSteps);
    } else {
      f = explorationFraction > 0 ? Math.min(1, this.ctx.progress() / explorationFraction) : 1;
    }
    return epsStart + f * (epsEnd - epsStart);
  }

  /** Q-values of a batch as a tensor (training: the forward pass of the update, on the tape). */
  private qValues(net: PolicyNetwork, x: tf.Tensor, training: boolean): tf.Tensor2D {
    const outs = training ? net.apply(x) : (net.model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[]);
    return qFromHeads(eagerOps, Array.isArray(outs) ? outs : [outs], this.hp.dueling) as tf.Tensor2D;
  }

  async resetEnvs(seed: number): Promise<void> {
    // The replay closes the running episodes (as truncated, no bootstrap from a lost state).
    this.replay.markDiscontinuity();
    this.obs = (await this.ctx.env.reset(seed)).obs;
  }

  /** Greedy actions (evaluation): argmax Q, i.e. argmax of the advantages with a dueling head. */
  act(obs: Uint8Array | Float32Array, n: number): Int32Array {
    const heads = this.online.forward(obs, n);
    return argMaxRows(this.hp.dueling ? heads.advantage : heads.q, n);
  }

  /** One vector step (numEnvs transitions) and the gradient steps that are due. */
  async iterate(): Promise<IterationStats> {
    const { env, rng } = this.ctx;
    const n = env.numEnvs;
    if (this.obs === null) throw new Error('DQN: call resetEnvs(seed) before iterate()');

    // ---- Rollout: uniformly random until learningStarts transitions (as SB3: the untrained net
    // picks no warm-up action), then epsilon-greedy; one batched forward pass over the envs that
    // act greedily (none at all while every env explores: no inference is wasted on them).
    const warmup = this.transitions < this.hp.learningStarts;
    const eps = warmup ? 1 : this.epsilon();
    const explore = new Uint8Array(n);
    const greedyEnvs: number[] = [];
    for (let i = 0; i < n; i++) {
      explore[i] = warmup || rng.next() < eps ? 1 : 0;
      if (!explore[i]) greedyEnvs.push(i);
    }
    const greedyObs = greedyEnvs.length > 0 ? rowsOf(this.obs, greedyEnvs, n) : null;
    const greedy = greedyObs ? inPhase(this.profiler, 'act', () => this.act(greedyObs, greedyEnvs.length)) : null;
    const actions = new Int32Array(n);
    for (let i = 0, g = 0; i < n; i++) {
      actions[i] = explore[i] || !greedy ? rng.int(env.actionSpace.n) : greedy[g++];
    }
    // The envs step while the gradient steps that are due run (DQN is off-policy: acting with the
    // network from before those steps is a one-step lag of the behaviour policy, nothing more).
    env.stepAsync(actions);
    let updates = 0;
    while (this.pendingUpdates >= 1) {
      this.pendingUpdates -= 1;
      this.lastUpdate = inPhase(this.profiler, 'update', () => this.update());
      updates++;
    }
    const learning = this.transitions >= this.hp.learningStarts;
    if (learning && this.transitions - this.lastTargetSync >= this.hp.targetUpdateInterval) {
      this.target.model.setWeights(this.online.model.getWeights());
      this.lastTargetSync = this.transitions;
    }
    const step = await env.stepWait();
    const rewards = this.hp.clipRewards ? step.rewards.map(Math.sign) : step.rewards;
    this.replay.add({
      obs: this.obs,
      actions,
      rewards,
      terminated: step.terminated,
      truncated: step.truncated,
      nextObs: step.obs,
      finalObs: step.finalObs,
    });
    this.ctx.onStep(step);
    this.obs = step.obs;
    this.transitions += n;

    // ---- Updates earned: one per trainFreq transitions once learning has started (run at the next step).
    if (this.transitions >= this.hp.learningStarts) this.pendingUpdates += n / this.hp.trainFreq;
    return { envSteps: n, updates, scalars: { ...this.lastUpdate, epsilon: eps } };
  }

  // ---- Loss: Huber on Q(s, a) against r + gamma^n * (1 - done) * Q_target(s', argmax).
  private update(): Record<string, number> {
    this.batch ??= this.replay.allocBatch(this.hp.batchSize);
    const b = this.replay.sample(this.hp.batchSize, this.ctx.rng, this.batch);
    this.compiledUpdate ??=
      compileDqnStep(this.online.graphOwner, {
        online: this.online,
        target: this.target,
        optimizer: this.optimizer,
        obsShape: this.ctx.env.observationSpace.shape,
        obsDtype: this.ctx.env.observationSpace.dtype,
        numActions: this.ctx.env.actionSpace.n,
        double: this.hp.double,
        dueling: this.hp.dueling,
        maxGradNorm: this.hp.maxGradNorm,
      }) ?? 'eager';
    const scalars = this.compiledUpdate !== 'eager' ? this.compiledUpdate.run(b) : this.eagerUpdate(b);
    this.updates++;
    if (!Number.isFinite(scalars.loss)) throw new NonFiniteLossError(scalars);
    return scalars;
  }

  /** The same update with tfjs ops (pure-JS backend, or no compiled graph). */
  private eagerUpdate(b: ReturnType<ReplayBuffer['sample']>): Record<string, number> {
    const out = tf.tidy(() => {
      const x = this.online.input(b.obs, b.actions.length);
      const x2 = this.online.input(b.nextObs, b.actions.length);
      const nA = this.ctx.env.actionSpace.n;
      const y = dqnTdTarget(
        eagerOps,
        {
          qNextTarget: this.qValues(this.target, x2, false),
          qNextOnline: this.hp.double ? this.qValues(this.online, x2, false) : undefined,
          rewards: tf.tensor1d(b.rewards),
          dones: tf.tensor1d(b.dones, 'float32'),
          discounts: tf.tensor1d(b.discounts),
        },
        nA,
      );
      const actions = tf.tensor1d(b.actions, 'int32');
      const stats: Record<string, tf.Tensor> = {};
      const { value: loss, grads } = tf.variableGrads(() => {
        const l = dqnLoss(eagerOps, { q: this.qValues(this.online, x, true), actions, y }, nA);
        for (const [k, v] of Object.entries(l.stats)) stats[k] = tf.keep(v);
        return l.loss as tf.Scalar;
      }, this.online.trainableVariables());
      const { clipped, norm } = clipNamedByGlobalNorm(grads, this.hp.maxGradNorm);
      this.optimizer.applyGradients(clipped);
      return { loss: tf.keep(loss), gradNorm: tf.keep(norm), ...stats };
    });
    return readScalars(out);
  }

  checkpointParts(): CheckpointParts {
    return {
      models: { online: this.online.model, target: this.target.model },
      optimizer: this.optimizer,
      varList: this.online.trainableVariables(),
      counters: {
        transitions: this.transitions,
        updates: this.updates,
        pendingUpdates: this.pendingUpdates,
        lastTargetSync: this.lastTargetSync,
      },
      replay: this.replay,
    };
  }

  restoreCounters(counters: Record<string, number>, replay?: ReplayBuffer): void {
    this.transitions = counters.transitions ?? 0;
    this.updates = counters.updates ?? 0;
    this.pendingUpdates = counters.pendingUpdates ?? 0;
    this.lastTargetSync = counters.lastTargetSync ?? 0;
    if (replay) {
      this.replay = replay;
      this.batch = null;
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.online.dispose();
    this.target.dispose();
  }

  /** One gradient update on a replay sample, outside the loop (`coordrl bench nn` times it). */
  updateFromReplay(): Record<string, number> {
    return this.update();
  }
}

/** The observations of the listed envs (all of them: the array itself, no copy). */
function rowsOf<T extends Uint8Array | Float32Array>(obs: T, rows: number[], n: number): T {
  if (rows.length === n) return obs;
  const size = obs.length / n;
  const out = new (obs.constructor as new (len: number) => T)(rows.length * size);
  rows.forEach((r, j) => {
    out.set(obs.subarray(r * size, (r + 1) * size), j * size);
  });
  return out;
}
