// A2C (synchronous advantage actor-critic), one file top to bottom in the manner of CleanRL:
// hyperparameters, network, rollout, loss, update. Defaults are Stable-Baselines3's tuned Atari
// settings (rl-baselines3-zoo a2c.yml) so results compare.
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
import { type CompiledA2cStep, compileA2cStep } from '../src/compiled/steps.js';
import { MAX_ENVS } from '../src/config.js';
import { RMSpropTF } from '../src/optim/rmsprop-tf.js';
import { collectRollout, type RolloutTimes } from '../src/rollout.js';
import { tf } from '../src/tf.js';
import { clipByGlobalNorm, readScalars } from '../src/util/grads.js';

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
// The agent
export class A2C implements TrainableAgent {
  readonly algo = 'a2c';
  readonly net: PolicyNetwork;
  private readonly optimizer: RMSpropTF;
  private obs: Float32Array | Uint8Array | null = null;
  private updates = 0;
  /** The update below as one TensorFlow graph run (src/compiled/), or 'eager' where it is not available. */
  private compiledUpdate: CompiledA2cStep | 'eager' | null = null;
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
    const obsBuf =
      env.observationSpace.dtype === 'uint8'
        ? new Uint8Array(nSteps * n * obsSize)
        : new Float32Array(nSteps * n * obsSize);
    const actions = new Int32Array(nSteps * n);
    const rewards = new Float32Array(nSteps * n);
    const dones = new Uint8Array(nSteps * n);
    const values = new Float32Array((nSteps + 1) * n);
    this.obs = await collectRollout(
      env,
      this.obs,
      nSteps,
      {
        act: (t, { start, count }, obs) => {
          obsBuf.set(obs, (t * n + start) * obsSize);
          const { policy: logits, value } = this.net.forward(obs, count);
          values.set(value, t * n + start);
          const a = sampleCategorical(logits, count, env.actionSpace.n, rng);
          actions.set(a, t * n + start);
          return a;
        },
        record: (t, { start, count }, step) => {
          const k0 = t * n + start;
          for (let i = 0; i < count; i++) {
            const r = step.rewards[i];
            rewards[k0 + i] = this.hp.clipRewards ? Math.sign(r) : r;
            dones[k0 + i] = step.terminated[i] | step.truncated[i];
          }
          // A step cut by an env-server restart is no transition: bootstrapping from V(s_t) itself
          // gives it a zero advantage, so it neither rewards nor punishes its action.
          for (const i of step.cutEpisodes ?? []) rewards[k0 + i] = values[k0 + i];
          // A truncated episode (time limit) did not end: bootstrap from its final observation.
          for (const [i, finalObs] of step.finalObs ?? []) {
            if (step.truncated[i] && !step.terminated[i]) {
              rewards[k0 + i] += gamma * this.net.forward(finalObs, 1).value[0];
            }
          }
          this.ctx.onStep(step);
        },
        last: ({ start, count }, obs) => {
          values.set(this.net.forward(obs, count).value, nSteps * n + start);
        },
      },
      { pipeline: this.hp.pipeline !== false, times: this.rolloutTimes },
    );

    // ---- Returns and advantages (GAE; lambda = 1 gives the n-step returns of the paper).
    const advantages = new Float32Array(nSteps * n);
    const returns = new Float32Array(nSteps * n);
    for (let i = 0; i < n; i++) {
      let gae = 0;
      for (let t = nSteps - 1; t >= 0; t--) {
        const k = t * n + i;
        const notDone = 1 - dones[k];
        const delta = rewards[k] + gamma * values[(t + 1) * n + i] * notDone - values[k];
        gae = delta + gamma * gaeLambda * notDone * gae;
        advantages[k] = gae;
        returns[k] = gae + values[k];
      }
    }
    if (this.hp.normalizeAdvantage) normalizeInPlace(advantages);

    // ---- Loss and update.
    this.optimizer.learningRate = this.learningRate();
    const stats = inPhase(this.profiler, 'update', () => this.update(obsBuf, actions, advantages, returns));
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
      compileA2cStep(this.net.graphOwner, {
        net: this.net,
        optimizer: this.optimizer,
        obsShape: env.observationSpace.shape,
        obsDtype: env.observationSpace.dtype,
        numActions: env.actionSpace.n,
        entCoef: this.hp.entCoef,
        vfCoef: this.hp.vfCoef,
        maxGradNorm: this.hp.maxGradNorm,
      }) ?? 'eager';
    const scalars =
      this.compiledUpdate !== 'eager'
        ? this.compiledUpdate.run(obs, actions, advantages, returns)
        : this.eagerUpdate(obs, actions, advantages, returns);
    if (!Number.isFinite(scalars.loss)) throw new NonFiniteLossError(scalars);
    return scalars;
  }

  /** The same update with tfjs ops (pure-JS backend, or no compiled graph). */
  private eagerUpdate(
    obs: Uint8Array | Float32Array,
    actions: Int32Array,
    advantages: Float32Array,
    returns: Float32Array,
  ): Record<string, number> {
    const batch = actions.length;
    const { entCoef, vfCoef, maxGradNorm } = this.hp;
    const out = tf.tidy(() => {
      const x = this.net.input(obs, batch);
      const act = tf.tensor1d(actions, 'int32');
      const adv = tf.tensor1d(advantages);
      const ret = tf.tensor1d(returns);
      const parts: Record<string, tf.Scalar> = {};
      const { value: loss, grads } = tf.variableGrads(() => {
        const [logits, value] = this.net.apply(x);
        const logp = tf.logSoftmax(logits);
        const logpA = tf.sum(tf.mul(logp, tf.oneHot(act, logits.shape[1] as number)), 1);
        const entropy = tf.mean(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1))) as tf.Scalar;
        const policyLoss = tf.neg(tf.mean(tf.mul(adv, logpA))) as tf.Scalar;
        const valueLoss = tf.mean(tf.square(tf.sub(ret, tf.reshape(value, [-1])))) as tf.Scalar;
        parts.policyLoss = tf.keep(policyLoss);
        parts.valueLoss = tf.keep(valueLoss);
        parts.entropy = tf.keep(entropy);
        return tf.addN([policyLoss, tf.mul(valueLoss, vfCoef), tf.mul(entropy, -entCoef)]) as tf.Scalar;
      }, this.net.trainableVariables());
      const { clipped, norm } = clipByGlobalNorm(grads, maxGradNorm);
      this.optimizer.applyGradients(clipped);
      return { loss: tf.keep(loss), gradNorm: tf.keep(norm), ...parts };
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

/** Samples one action per row of logits with the agent's seeded RNG (reproducible, no tf RNG). */
export function sampleCategorical(logits: Float32Array, rows: number, n: number, rng: { next(): number }): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, logits[r * n + j]);
    let total = 0;
    for (let j = 0; j < n; j++) total += Math.exp(logits[r * n + j] - max);
    let u = rng.next() * total;
    let a = n - 1;
    for (let j = 0; j < n; j++) {
      u -= Math.exp(logits[r * n + j] - max);
      if (u <= 0) {
        a = j;
        break;
      }
    }
    out[r] = a;
  }
  return out;
}

function normalizeInPlace(x: Float32Array): void {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / x.length) + 1e-8;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
}
