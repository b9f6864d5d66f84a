// The categorical distribution over a discrete action space, parameterised by logits: sampling
// with the agent's seeded RNG (reproducible, no TensorFlow RNG), log-probabilities, entropy and the
// most likely action, for policy-gradient agents (A2C, PPO). Two halves: the acting side on
// logits read back from inference (Float32Array rows, plain JS), and the loss side written over
// src/ops/ops.ts (both execution paths).
import { argMaxRows } from '../agent.js';
import type { Ops } from '../ops/ops.js';

/** The mode of a categorical distribution per row (greedy actions); defined with the agents' contract. */
export { argMaxRows };

type Rng = { next(): number };

/** Samples one action per row of logits (rows x n, row-major) with one rng draw per row. */
export function sampleCategorical(logits: Float32Array, rows: number, n: number, rng: Rng): Int32Array {
  return sampleCategoricalWithLogProbs(logits, rows, n, rng).actions;
}

/**
 * As sampleCategorical (the same draws and actions), also returning the log-probability of each
 * chosen action: logits[a] - max - log(sum exp(logits - max)), computed in float64 from the same
 * terms as the sampling.
 */
export function sampleCategoricalWithLogProbs(
  logits: Float32Array,
  rows: number,
  n: number,
  rng: Rng,
): { actions: Int32Array; logProbs: Float32Array } {
  const actions = new Int32Array(rows);
  const logProbs = new Float32Array(rows);
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
    actions[r] = a;
    logProbs[r] = logits[r * n + a] - max - Math.log(total);
  }
  return { actions, logProbs };
}

/** log pi(a_r | row r) for given actions (rows x n logits). */
export function categoricalLogProbs(logits: Float32Array, rows: number, n: number, actions: Int32Array): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = logits[r * n + actions[r]] - logSumExp(logits, r * n, n);
  return out;
}

/** The entropy -sum_a p log p of each row's distribution. */
export function categoricalEntropy(logits: Float32Array, rows: number, n: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const lse = logSumExp(logits, r * n, n);
    let h = 0;
    for (let j = 0; j < n; j++) {
      const logp = logits[r * n + j] - lse;
      h -= Math.exp(logp) * logp;
    }
    out[r] = h;
  }
  return out;
}

function logSumExp(x: Float32Array, offset: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, x[offset + j]);
  let total = 0;
  for (let j = 0; j < n; j++) total += Math.exp(x[offset + j] - max);
  return max + Math.log(total);
}

// ---- The loss side, over Ops (logp: log-softmax of the logits, batch x numActions).

/** log pi(a | s) of int32 actions: the log-probability column of each row's action. */
export function logProbOf<T>(ops: Ops<T>, logp: T, actions: T, numActions: number): T {
  return ops.sum(ops.mul(logp, ops.oneHot(actions, numActions)), 1);
}

/** Each row's entropy -sum_a exp(logp) logp. */
export function entropyOf<T>(ops: Ops<T>, logp: T): T {
  return ops.neg(ops.sum(ops.mul(ops.exp(logp), logp), 1));
}
