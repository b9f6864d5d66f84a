// A2C (synchronous advantage actor-critic), one file top to bottom in the manner of CleanRL:
// hyperparameters, loss, then the agent (network, rollout, update). Defaults are Stable-Baselines3's tuned Atari
// settings (rl-baselines3-zoo a2c.yml) so results compare.
import { z } from 'zod';
import {
  type AgentContext,
  type AgentProfiler,
  type CheckpointParts,
  type IterationStats,
  inPhase,
  NonFiniteLossError,
  PolicyNetwork,
  type TrainableAgent,
} from '../src/agent.js';
import { type CompiledUpdate, compileUpdate } from '../src/compiled/steps.js';
import { MAX_ENVS } from '../src/config.js';
import { argMaxRows, entropyOf, logProbOf, sampleCategorical } from '../src/onpolicy/categorical.js';
import { normalizeAdvantages, RolloutBuffer } from '../src/onpolicy/rollout-buffer.js';
import { eagerOps } from '../src/ops/eager-ops.js';
import { clipNamedByGlobalNorm, readScalars } from '../src/ops/grads.js';
import type { LossOutputs, Ops } from '../src/ops/ops.js';
import { RMSpropTF } from '../src/optim/rmsprop-tf.js';
import { collectRollout, type RolloutTimes } from '../src/rollout.js';
import { tf } from '../src/tf.js';

// ---------------------------------------------------------------------------------------------
// Hyperparameters
export const a2cSchema = z
  .object({
    numEnvs: z.number().int().positive().max(MAX_ENVS).default(16).describe('parallel environments'),
    nSteps: z.number().int().positive().default(5).describe('steps per env per update'),
    gamma: z.number().min(0).max(1).default(0.99).describe('discount factor'),
    gaeLambda: z.number().min(0).max(1).default(1.0).describe('GAE lambda (1.0 = n-step returns)'),
    entCoef: z.number().min(0).default(0.01).describe('entropy bonus coefficient'),
    vfCoef: z.number().min(0).default(0.25).describe('value loss coefficient'),
    maxGradNorm: z.number().positive().default(0.5).describe('clip gradients to this global norm'),
    lr: z.number().positive().default(7e-4).describe('learning rate'),
    lrSchedule: z.enum(['constant', 'linear']).default('constant').describe('learning-rate schedule over the budget'),
    rmsDecay: z.number().min(0).max(1).default(0.99).describe('RMSprop decay (alpha)'),
    rmsEpsilon: z.number().positive().default(1e-5).describe('RMSprop epsilon (inside the square root, TF style)'),
    normalizeAdvantage: z.boolean().default(false).describe('normalise advantages per batch'),
    clipRewards: z.boolean().default(true).describe('train on sign(reward) (scores stay raw)'),
    pipeline: z
      .boolean()
      .optional()
      .describe(
        "step the envs in two groups, computing one group's actions while the other steps (same maths); off by default: on 2 cores it costs more CPU than it hides (docs/speed.md); envs on several --env-servers are stepped in turn unless --no-pipeline",
      ),
  })
  .strict();
export type A2CHyperparams = z.infer<typeof a2cSchema>;

// ---------------------------------------------------------------------------------------------
// Loss: -mean(adv log pi(a|s)) + vfCoef mean((ret - V(s))^2) - entCoef mean(H(pi(.|s))). Written
// once over src/ops/ops.ts: the eager update runs it on tfjs tensors, the compiled update builds it
// as graph nodes (test/compiled.test.ts checks both give the same numbers).
export interface A2cLossInputs<T> {
  /** Policy logits, batch x numActions. */
  logits: T;
  /** Value head, batch x 1. */
  value: T;
  /** int32 actions taken. */
  actions: T;
  advantages: T;
  returns: T;
}

export function a2cLoss<T>(
  ops: Ops<T>,
  b: A2cLossInputs<T>,
  hp: { entCoef: number; vfCoef: number; numActions: number },
): LossOutputs<T> {
  const logp = ops.logSoftmax(b.logits);
  const logpA = logProbOf(ops, logp, b.actions, hp.numActions);
  const entropy = ops.mean(entropyOf(ops, logp), 0);
  const policyLoss = ops.neg(ops.mean(ops.mul(b.advantages, logpA), 0));
  const valueLoss = ops.mean(ops.square(ops.sub(b.returns, ops.reshape(b.value, [-1]))), 0);
  const loss = ops.add(
    ops.add(policyLoss, ops.mul(valueLoss, ops.scalar(hp.vfCoef))),
    ops.mul(entropy, ops.scalar(-hp.entCoef)),
  );
  return { loss, stats: { policyLoss, valueLoss, entropy } };
}

/** An update's batch: the rollout's observations, actions, advantages and returns. */
const A2C_BATCH = { obs: 'obs', actions: 'int32', advantages: 'float32', returns: 'float32' } as const;

// ---------------------------------------------------------------------------------------------
// The agent
export class A2C implements TrainableAgent {
  readonly algo = 'a2c';
  readonly net: PolicyNetwork;
  private readonly optimizer: RMSpropTF;
  private obs: Float32Array | Uint8Array | null = null;
  private updates = 0;
  /** The update below as one TensorFlow graph run (src/compiled/), or 'eager' where it is not available. */
  private compiledUpdate: CompiledUpdate<typeof A2C_BATCH> | 'eager' | null = null;
  /** Set by a profiler (`coordrl bench rollout`): the rollout adds where its time went. */
  rolloutTimes: RolloutTimes | undefined;
  profiler?: AgentProfiler;

  constructor(
    private readonly ctx: AgentContext,
    readonly hp: A2CHyperparams,
  ) {
    // Network: shared torso, policy logits (orthogonal gain 0.01) and value (gain 1) heads.
    this.net = new PolicyNetwork(ctx, {
      heads: [
        { name: 'policy', units: ctx.env.actionSpace.n, gain: 0.01 },
        { name: 'value', units: 1, gain: 1 },
      ],
    });
    this.optimizer = new RMSpropTF(hp.lr, hp.rmsDecay, hp.rmsEpsilon);
  }

  /** One rollout of nSteps x numEnvs transitions followed by one gradient update. */
  async iterate(): Promise<IterationStats> {
    const { env, rng } = this.ctx;
    const { nSteps, gamma, gaeLambda } = this.hp;
    const n = env.numEnvs;
    const obsSize = env.observationSpace.size;
    if (this.obs === null) throw new Error('A2C: call resetEnvs(seed) before iterate()');

    // ---- Rollout: batched inference, one forward pass per step for each env group that steps
    // together; with the env in several groups (`pipeline`), one group's envs step in the server
    // while the next group's actions are computed (src/rollout.ts; the same actions, same order).
    const buf = new RolloutBuffer(nSteps, n, obsSize, env.observationSpace.dtype);
    const stateValue = (obs: Uint8Array | Float32Array) => this.net.forward(obs, 1).value[0];
    this.obs = await collectRollout(
      env,
      this.obs,
      nSteps,
      {
        act: (t, { start, count }, obs) => {
          const { policy: logits, value } = this.net.forward(obs, count);
          const a = sampleCategorical(logits, count, env.actionSpace.n, rng);
          buf.storeAct(t, start, { obs, values: value, actions: a });
          return a;
        },
        record: (t, { start, count }, step) => {
          // Time limits bootstrap from the final observation; env-server cuts get zero advantage
          // (src/onpolicy/rollout-buffer.ts).
          buf.storeStep(t, start, count, step, { gamma, clipRewards: this.hp.clipRewards, stateValue });
          this.ctx.onStep(step);
        },
        last: ({ start, count }, obs) => {
          buf.storeLastValues(start, this.net.forward(obs, count).value);
        },
      },
      { pipeline: this.hp.pipeline !== false, times: this.rolloutTimes },
    );

    // ---- Returns and advantages (GAE; lambda = 1 gives the n-step returns of the paper).
    buf.computeAdvantages(gamma, gaeLambda);
    if (this.hp.normalizeAdvantage) normalizeAdvantages(buf.advantages);

    // ---- Loss and update.
    this.optimizer.learningRate = this.learningRate();
    const stats = inPhase(this.profiler, 'update', () =>
      this.update(buf.obs, buf.actions, buf.advantages, buf.returns),
    );
    this.updates++;
    return { envSteps: nSteps * n, updates: 1, scalars: { ...stats, learningRate: this.optimizer.learningRate } };
  }

  private update(
    obs: Uint8Array | Float32Array,
    actions: Int32Array,
    advantages: Float32Array,
    returns: Float32Array,
  ): Record<string, number> {
    const { env } = this.ctx;
    this.compiledUpdate ??=
      compileUpdate(this.net.graphOwner, {
        net: this.net,
        optimizer: this.optimizer,
        maxGradNorm: this.hp.maxGradNorm,
        obsShape: env.observationSpace.shape,
        obsDtype: env.observationSpace.dtype,
        inputs: A2C_BATCH,
        loss: (ops, b, forward) => {
          const [logits, value] = forward(this.net, b.obs);
          return a2cLoss(ops, { ...b, logits, value }, this.lossParams());
        },
      }) ?? 'eager';
    const batch = { obs, actions, advantages, returns };
    const scalars =
      this.compiledUpdate !== 'eager'
        ? this.compiledUpdate.run(batch, actions.length)
        : this.eagerUpdate(batch, actions.length);
    if (!Number.isFinite(scalars.loss)) throw new NonFiniteLossError(scalars);
    return scalars;
  }

  private lossParams(): Parameters<typeof a2cLoss>[2] {
    return { entCoef: this.hp.entCoef, vfCoef: this.hp.vfCoef, numActions: this.ctx.env.actionSpace.n };
  }

  /** The same update with tfjs ops (pure-JS backend, or no compiled graph). */
  private eagerUpdate(
    b: { obs: Uint8Array | Float32Array; actions: Int32Array; advantages: Float32Array; returns: Float32Array },
    batch: number,
  ): Record<string, number> {
    const out = tf.tidy(() => {
      const x = this.net.input(b.obs, batch);
      const inputs = {
        actions: tf.tensor1d(b.actions, 'int32'),
        advantages: tf.tensor1d(b.advantages),
        returns: tf.tensor1d(b.returns),
      };
      const stats: Record<string, tf.Tensor> = {};
      const { value: loss, grads } = tf.variableGrads(() => {
        const [logits, value] = this.net.apply(x);
        const l = a2cLoss(eagerOps, { ...inputs, logits, value }, this.lossParams());
        for (const [k, v] of Object.entries(l.stats)) stats[k] = tf.keep(v);
        return l.loss as tf.Scalar;
      }, this.net.trainableVariables());
      const { clipped, norm } = clipNamedByGlobalNorm(grads, this.hp.maxGradNorm);
      this.optimizer.applyGradients(clipped);
      return { loss: tf.keep(loss), gradNorm: tf.keep(norm), ...stats };
    });
    return readScalars(out);
  }

  private learningRate(): number {
    if (this.hp.lrSchedule === 'constant') return this.hp.lr;
    return this.hp.lr * Math.max(0, 1 - this.ctx.progress());
  }

  async resetEnvs(seed: number): Promise<void> {
    this.obs = (await this.ctx.env.reset(seed)).obs;
  }

  /** Greedy actions (evaluation): the most likely action of the policy. */
  act(obs: Uint8Array | Float32Array, n: number): Int32Array {
    return argMaxRows(this.net.forward(obs, n).policy, n);
  }

  /** Actions sampled from the policy, as in the rollout (evaluation with `--policy sample`). */
  sampleActions(obs: Uint8Array | Float32Array, n: number, rng: { next(): number }): Int32Array {
    return sampleCategorical(this.net.forward(obs, n).policy, n, this.ctx.env.actionSpace.n, rng);
  }

  checkpointParts(): CheckpointParts {
    return {
      models: { policy: this.net.model },
      optimizer: this.optimizer,
      varList: this.net.trainableVariables(),
      counters: { updates: this.updates },
    };
  }

  restoreCounters(counters: Record<string, number>): void {
    this.updates = counters.updates ?? 0;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }

  /** One update on a given batch, outside the loop (`coordrl bench nn` times it). */
  updateOnBatch(
    obs: Uint8Array | Float32Array,
    actions: Int32Array,
    advantages: Float32Array,
    returns: Float32Array,
  ): Record<string, number> {
    return this.update(obs, actions, advantages, returns);
  }
}
