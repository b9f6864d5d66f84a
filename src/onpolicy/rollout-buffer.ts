// An on-policy rollout's storage (A2C, PPO): nSteps x numEnvs transitions, row t * numEnvs + i for
// env i at step t, with the value estimates, the actions' log-probabilities under the acting
// policy, and after the rollout the GAE(lambda) advantages and returns.
//
// Time limits and env-server restarts are handled where the step is recorded:
// - an episode cut by the time limit (truncated, not terminated) did not end: its last reward gets
//   gamma V(final observation) added, so the return bootstraps from the state it was cut in;
// - a step cut by an env-server restart is no transition: its reward is set to V(s_t); the env
//   reports it truncated (so done) with no final observation, which gives it advantage
//   r - V(s_t) = 0, so it neither rewards nor punishes its action.
import type { AgentStep } from '../agent.js';

type Obs = Uint8Array | Float32Array;

export class RolloutBuffer {
  readonly obs: Obs;
  readonly actions: Int32Array;
  /** Training rewards (clipped where the agent clips), with the bootstraps above folded in. */
  readonly rewards: Float32Array;
  /** 1 where the episode ended at this step (terminated or truncated): no value flows back over it. */
  readonly dones: Uint8Array;
  /** V(s_t) per row, plus one more row of numEnvs: V of the observations after the last step. */
  readonly values: Float32Array;
  /** log pi(a_t | s_t) under the policy that acted (PPO's ratio denominator). */
  readonly logProbs: Float32Array;
  readonly advantages: Float32Array;
  readonly returns: Float32Array;

  constructor(
    readonly nSteps: number,
    readonly numEnvs: number,
    readonly obsSize: number,
    obsDtype: 'uint8' | 'float32',
  ) {
    const rows = nSteps * numEnvs;
    this.obs = obsDtype === 'uint8' ? new Uint8Array(rows * obsSize) : new Float32Array(rows * obsSize);
    this.actions = new Int32Array(rows);
    this.rewards = new Float32Array(rows);
    this.dones = new Uint8Array(rows);
    this.values = new Float32Array(rows + numEnvs);
    this.logProbs = new Float32Array(rows);
    this.advantages = new Float32Array(rows);
    this.returns = new Float32Array(rows);
  }

  get rows(): number {
    return this.nSteps * this.numEnvs;
  }

  /** What the policy saw and did at step t in env slots [start, start + count). */
  storeAct(
    t: number,
    start: number,
    data: { obs: Obs; values: Float32Array; actions: Int32Array; logProbs?: Float32Array },
  ): void {
    const k = t * this.numEnvs + start;
    this.obs.set(data.obs, k * this.obsSize);
    this.values.set(data.values, k);
    this.actions.set(data.actions, k);
    if (data.logProbs) this.logProbs.set(data.logProbs, k);
  }

  /**
   * The outcome of step t in env slots [start, start + count) (`step`'s env indices count from
   * start); `stateValue` is V of one observation, for bootstrapping truncated episodes.
   */
  storeStep(
    t: number,
    start: number,
    count: number,
    step: AgentStep,
    opts: { gamma: number; clipRewards: boolean; stateValue: (obs: Obs) => number },
  ): void {
    const k0 = t * this.numEnvs + start;
    const { rewards, dones, values } = this;
    for (let i = 0; i < count; i++) {
      const r = step.rewards[i];
      rewards[k0 + i] = opts.clipRewards ? Math.sign(r) : r;
      dones[k0 + i] = step.terminated[i] | step.truncated[i];
    }
    for (const i of step.cutEpisodes ?? []) rewards[k0 + i] = values[k0 + i];
    for (const [i, finalObs] of step.finalObs ?? []) {
      if (step.truncated[i] && !step.terminated[i]) rewards[k0 + i] += opts.gamma * opts.stateValue(finalObs);
    }
  }

  /** V of the observations after the last step, env slots [start, start + values.length). */
  storeLastValues(start: number, values: Float32Array): void {
    this.values.set(values, this.nSteps * this.numEnvs + start);
  }

  /** Fills advantages and returns (GAE(lambda); lambda = 1: n-step returns) from the stored rollout. */
  computeAdvantages(gamma: number, gaeLambda: number): void {
    computeGae(this, gamma, gaeLambda, this.advantages, this.returns);
  }
}

/**
 * GAE(lambda) (Schulman et al. 2016) per env, backwards in time:
 *   delta_t = r_t + gamma V(s_t+1) (1 - done_t) - V(s_t);  A_t = delta_t + gamma lambda (1 - done_t) A_t+1
 * and returns R_t = A_t + V(s_t). `values` has nSteps + 1 rows (the last: V after the rollout).
 */
export function computeGae(
  r: {
    nSteps: number;
    numEnvs: number;
    rewards: Float32Array;
    dones: Uint8Array;
    values: Float32Array;
  },
  gamma: number,
  gaeLambda: number,
  advantages: Float32Array,
  returns: Float32Array,
): void {
  const { nSteps, numEnvs: n, rewards, dones, values } = r;
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
}

/** (x - mean) / (std + 1e-8) in place (population std), per batch as SB3's normalize_advantage. */
export function normalizeAdvantages(x: Float32Array): void {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / x.length) + 1e-8;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
}
