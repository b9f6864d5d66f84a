// The shared on-policy parts (src/onpolicy/): GAE(lambda) against a hand-worked example and, at
// lambda = 1, against n-step returns summed directly; time-limit bootstrapping and env-server cuts
// as a recorded step; advantage normalisation; the categorical distribution's sampling (the draws
// A2C has always made), log-probabilities and entropy against softmax, on both sides (plain JS
// and the loss's Ops).
import { beforeAll, describe, expect, it } from 'vitest';
import type { AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import {
  argMaxRows,
  categoricalEntropy,
  categoricalLogProbs,
  entropyOf,
  logProbOf,
  sampleCategorical,
  sampleCategoricalWithLogProbs,
} from '../src/onpolicy/categorical.js';
import { computeGae, normalizeAdvantages, RolloutBuffer } from '../src/onpolicy/rollout-buffer.js';
import { eagerOps } from '../src/ops/eager-ops.js';
import { tf } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

function gae(
  nSteps: number,
  numEnvs: number,
  rewards: number[],
  dones: number[],
  values: number[],
  gamma: number,
  lambda: number,
) {
  const advantages = new Float32Array(nSteps * numEnvs);
  const returns = new Float32Array(nSteps * numEnvs);
  computeGae(
    {
      nSteps,
      numEnvs,
      rewards: Float32Array.from(rewards),
      dones: Uint8Array.from(dones),
      values: Float32Array.from(values),
    },
    gamma,
    lambda,
    advantages,
    returns,
  );
  return { advantages: Array.from(advantages), returns: Array.from(returns) };
}

describe('GAE(lambda)', () => {
  it('matches a hand-worked example (one env, an episode end in the middle)', () => {
    // gamma 0.5, lambda 0.5; r = [1, 0, 2], done = [0, 1, 0], V = [0.5, 1, 2 | 4]:
    // t=2: delta = 2 + 0.5*4 - 2 = 2                 A = 2
    // t=1: delta = 0 + 0 (done) - 1 = -1             A = -1 (nothing flows back over the end)
    // t=0: delta = 1 + 0.5*1 - 0.5 = 1               A = 1 + 0.5*0.5*(-1) = 0.75
    const { advantages, returns } = gae(3, 1, [1, 0, 2], [0, 1, 0], [0.5, 1, 2, 4], 0.5, 0.5);
    expect(advantages).toEqual([0.75, -1, 2]);
    expect(returns).toEqual([1.25, 0, 4]);
  });

  it('keeps the envs apart (rows t * numEnvs + i)', () => {
    // env 0 as above; env 1: r = [0, 0, 0], no ends, V = 1 throughout: delta = 0.5 - 1 = -0.5 each step.
    const { advantages } = gae(3, 2, [1, 0, 0, 0, 2, 0], [0, 0, 1, 0, 0, 0], [0.5, 1, 1, 1, 2, 1, 4, 1], 0.5, 0.5);
    expect([advantages[0], advantages[2], advantages[4]]).toEqual([0.75, -1, 2]);
    // A_2 = -0.5; A_1 = -0.5 + 0.25 * -0.5 = -0.625; A_0 = -0.5 + 0.25 * -0.625 = -0.65625
    expect([advantages[1], advantages[3], advantages[5]]).toEqual([-0.65625, -0.625, -0.5]);
  });

  it('with lambda = 1 gives the n-step returns r_t + gamma r_t+1 + ... + gamma^k V(s_t+k), cut at episode ends', () => {
    const rng = new Rng(5);
    const nSteps = 7;
    const n = 3;
    const gamma = 0.9;
    const rewards = Array.from({ length: nSteps * n }, () => rng.next() * 2 - 1);
    const dones = Array.from({ length: nSteps * n }, () => (rng.next() < 0.2 ? 1 : 0));
    const values = Array.from({ length: (nSteps + 1) * n }, () => rng.next());
    const { returns, advantages } = gae(nSteps, n, rewards, dones, values, gamma, 1);
    const f32 = (x: number[]) => Array.from(Float32Array.from(x));
    const [r32, v32] = [f32(rewards), f32(values)];
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < nSteps; t++) {
        let ret = 0;
        let discount = 1;
        let u = t;
        for (; u < nSteps; u++) {
          ret += discount * r32[u * n + i];
          discount *= gamma;
          if (dones[u * n + i]) break;
        }
        if (u === nSteps) ret += discount * v32[nSteps * n + i];
        expect(returns[t * n + i]).toBeCloseTo(ret, 5);
        expect(advantages[t * n + i]).toBeCloseTo(ret - v32[t * n + i], 5);
      }
    }
  });
});

describe('RolloutBuffer: recording a step', () => {
  const step = (over: Partial<AgentStep>): AgentStep => ({
    obs: new Float32Array(4),
    rewards: new Float32Array([2, -3, 5, 0.5]),
    terminated: new Uint8Array(4),
    truncated: new Uint8Array(4),
    ...over,
  });

  it('bootstraps a time-limit truncation from V(final observation), not a termination; clips rewards to their sign', () => {
    const buf = new RolloutBuffer(1, 4, 1, 'float32');
    const finalObs = new Map<number, Float32Array>([
      [0, new Float32Array([10])],
      [1, new Float32Array([20])],
    ]);
    const s = step({ truncated: new Uint8Array([1, 0, 0, 0]), terminated: new Uint8Array([0, 1, 0, 0]), finalObs });
    const seen: number[] = [];
    const stateValue = (o: Uint8Array | Float32Array) => {
      seen.push(o[0]);
      return o[0] / 10;
    };
    buf.storeStep(0, 0, 4, s, { gamma: 0.5, clipRewards: true, stateValue });
    // env 0: sign(2) + 0.5 * V = 1 + 0.5 * 1; env 1 terminated: sign(-3), no bootstrap.
    expect(Array.from(buf.rewards)).toEqual([1.5, -1, 1, 1]);
    expect(seen).toEqual([10]);
    expect(Array.from(buf.dones)).toEqual([1, 1, 0, 0]);
    buf.storeStep(0, 0, 4, s, { gamma: 0.5, clipRewards: false, stateValue });
    expect(Array.from(buf.rewards)).toEqual([2.5, -3, 5, 0.5]);
  });

  it('gives a step cut by an env-server restart zero advantage (and its slice offset is respected)', () => {
    const buf = new RolloutBuffer(2, 4, 1, 'float32');
    // Slice [2, 4) at t = 1: env 2 (index 0 of the slice) was cut; the env reports it truncated.
    buf.storeAct(1, 2, {
      obs: new Float32Array([0, 0]),
      values: new Float32Array([0.7, 0.3]),
      actions: new Int32Array([1, 0]),
    });
    const s = step({
      rewards: new Float32Array([0, 1]),
      truncated: new Uint8Array([1, 0]),
      terminated: new Uint8Array(2),
      finalObs: new Map(),
      cutEpisodes: [0],
    });
    buf.storeStep(1, 2, 2, s, { gamma: 0.99, clipRewards: true, stateValue: () => 100 });
    buf.storeLastValues(0, new Float32Array([9, 9, 9, 9]));
    buf.computeAdvantages(0.99, 0.95);
    expect(buf.rewards[1 * 4 + 2]).toBeCloseTo(0.7, 6);
    expect(buf.advantages[1 * 4 + 2]).toBe(0);
    expect(buf.advantages[1 * 4 + 3]).toBeCloseTo(1 + 0.99 * 9 - 0.3, 5);
    expect(Array.from(buf.actions.subarray(6, 8))).toEqual([1, 0]);
  });

  it('normalises advantages to mean 0 and (population) std 1', () => {
    const x = Float32Array.from([1, 2, 3, 4, 10]);
    normalizeAdvantages(x);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
    expect(mean).toBeCloseTo(0, 6);
    expect(std).toBeCloseTo(1, 5);
    expect(x[4]).toBeGreaterThan(x[3]);
  });
});

/** softmax of each row (float64). */
function softmaxRows(logits: Float32Array, rows: number, n: number): number[][] {
  return Array.from({ length: rows }, (_, r) => {
    const row = Array.from(logits.subarray(r * n, (r + 1) * n));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  });
}

describe('categorical distribution', () => {
  const rows = 6;
  const n = 4;
  const rng = new Rng(3);
  const logits = Float32Array.from({ length: rows * n }, () => rng.next() * 6 - 3);

  it('samples by inverse CDF with one draw per row: u in the k-th probability interval gives action k', () => {
    const p = softmaxRows(logits, 1, n)[0];
    const cdf = p.map((_, k) => p.slice(0, k + 1).reduce((a, b) => a + b, 0));
    for (let k = 0; k < n; k++) {
      const u = (k === 0 ? 0 : cdf[k - 1]) + p[k] / 2;
      const draws: number[] = [];
      const a = sampleCategorical(logits.subarray(0, n), 1, n, {
        next: () => {
          draws.push(u);
          return u;
        },
      });
      expect(a[0]).toBe(k);
      expect(draws.length).toBe(1);
    }
  });

  it('returns the log-probabilities of the sampled actions with the same draws and actions', () => {
    const a = sampleCategorical(logits, rows, n, new Rng(8));
    const { actions, logProbs } = sampleCategoricalWithLogProbs(logits, rows, n, new Rng(8));
    expect(Array.from(actions)).toEqual(Array.from(a));
    const p = softmaxRows(logits, rows, n);
    for (let r = 0; r < rows; r++) expect(logProbs[r]).toBeCloseTo(Math.log(p[r][actions[r]]), 5);
    // The empirical frequencies follow the probabilities.
    const counts = new Array(n).fill(0);
    const g = new Rng(1);
    const N = 20_000;
    for (let i = 0; i < N; i++) counts[sampleCategorical(logits.subarray(0, n), 1, n, g)[0]]++;
    counts.forEach((c, k) => {
      expect(c / N).toBeCloseTo(p[0][k], 1);
    });
  });

  it('log-prob and entropy match softmax, in plain JS and over Ops (the loss side)', () => {
    const p = softmaxRows(logits, rows, n);
    const actions = Int32Array.from({ length: rows }, (_, r) => (r * 3) % n);
    const lp = categoricalLogProbs(logits, rows, n, actions);
    const h = categoricalEntropy(logits, rows, n);
    const [lpOps, hOps] = tf.tidy(() => {
      const logp = eagerOps.logSoftmax(tf.tensor2d(logits, [rows, n]));
      return [
        logProbOf(eagerOps, logp, tf.tensor1d(actions, 'int32'), n).dataSync(),
        entropyOf(eagerOps, logp).dataSync(),
      ];
    });
    for (let r = 0; r < rows; r++) {
      const entropy = -p[r].reduce((acc, q) => acc + q * Math.log(q), 0);
      expect(lp[r]).toBeCloseTo(Math.log(p[r][actions[r]]), 5);
      expect(lpOps[r]).toBeCloseTo(Math.log(p[r][actions[r]]), 5);
      expect(h[r]).toBeCloseTo(entropy, 5);
      expect(hOps[r]).toBeCloseTo(entropy, 5);
    }
    // A uniform distribution has the largest entropy, log n.
    expect(categoricalEntropy(new Float32Array(n).fill(0.3), 1, n)[0]).toBeCloseTo(Math.log(n), 6);
  });

  it('argmax takes the first of equal maxima', () => {
    expect(Array.from(argMaxRows(Float32Array.from([1, 3, 3, 0, 5, 2]), 2))).toEqual([1, 1]);
  });
});
