// Evaluation with a fixed episode quota per env (SB3's evaluate_policy), on a scripted env whose
// episode lengths differ a lot between envs: the first-N-finished rule would fill the sample with
// the short episodes of env 0 and report their score.
import { describe, expect, it } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import type { AgentEnv, AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { episodeQuota, playEpisodes, spread } from '../src/training/evaluation.js';
import { Rng } from '../src/util/rng.js';
import { fakeEnv } from './helpers/fake-env.js';

/** Env k plays episodes of `lengths[k][j % len]` steps and scores its length (deterministic). */
function scriptedEnv(lengths: number[][]): AgentEnv & { steps: number } {
  const n = lengths.length;
  const t = new Array<number>(n).fill(0);
  const episode = new Array<number>(n).fill(0);
  const obs = new Float32Array(n);
  const env = {
    numEnvs: n,
    observationSpace: { shape: [1], dtype: 'float32' as const, size: 1 },
    actionSpace: { n: 2 },
    steps: 0,
    async reset() {
      t.fill(0);
      episode.fill(0);
      return { obs };
    },
    async step(actions: Int32Array): Promise<AgentStep> {
      expect(actions.length).toBe(n);
      env.steps++;
      const episodes: NonNullable<AgentStep['episodes']> = [];
      const terminated = new Uint8Array(n);
      for (let k = 0; k < n; k++) {
        t[k]++;
        const len = lengths[k][episode[k] % lengths[k].length];
        if (t[k] === len) {
          episodes.push({ env: k, score: len, length: len });
          terminated[k] = 1;
          t[k] = 0;
          episode[k]++;
        }
      }
      return { obs, rewards: new Float32Array(n), terminated, truncated: new Uint8Array(n), episodes };
    },
    stepAsync() {
      throw new Error('not used');
    },
    async stepWait(): Promise<AgentStep> {
      throw new Error('not used');
    },
  };
  return env;
}

const greedy = (obs: Uint8Array | Float32Array) => new Int32Array(obs.length);

describe('evaluation episode quota', () => {
  it('gives env i floor((N + i) / k) episodes, summing to N', () => {
    expect(episodeQuota(10, 4)).toEqual([2, 2, 3, 3]);
    expect(episodeQuota(5, 3)).toEqual([1, 2, 2]);
    expect(episodeQuota(3, 3)).toEqual([1, 1, 1]);
    for (const [n, k] of [
      [1, 1],
      [7, 2],
      [100, 16],
      [30, 8],
    ]) {
      const q = episodeQuota(n, k);
      expect(q.reduce((a, b) => a + b, 0)).toBe(n);
      expect(Math.max(...q) - Math.min(...q)).toBeLessThanOrEqual(1);
    }
  });

  it('does not favour short episodes: each env contributes its quota, later episodes are dropped', async () => {
    // env 0: 2-step episodes; env 1: 50-step episodes. The first 4 finished episodes are all env 0's
    // (at steps 2, 4, 6, 8): that rule gives mean 2. With quotas 2 + 2: (2 + 2 + 50 + 50) / 4 = 26.
    const env = scriptedEnv([[2], [50]]);
    const eps = await playEpisodes(env, greedy, { episodes: 4, seed: 1, frameSkip: 4 });
    expect(eps.map((e) => e.env).sort()).toEqual([0, 0, 1, 1]);
    expect(spread(eps.map((e) => e.score)).mean).toBe(26);
    expect(env.steps).toBe(100); // until env 1 finished its second episode
    expect(eps.find((e) => e.env === 1)).toEqual({ env: 1, score: 50, steps: 50, frames: 200 });
  });

  it('gives the same mean whatever the order in which envs finish', async () => {
    // Lengths vary within each env too; swapping which env holds the long episodes keeps the result.
    const a = await playEpisodes(
      scriptedEnv([
        [3, 5, 7],
        [40, 90, 10],
        [1, 2, 3],
      ]),
      greedy,
      { episodes: 9, seed: 1, frameSkip: 1 },
    );
    const b = await playEpisodes(
      scriptedEnv([
        [1, 2, 3],
        [3, 5, 7],
        [40, 90, 10],
      ]),
      greedy,
      { episodes: 9, seed: 1, frameSkip: 1 },
    );
    const sa = spread(a.map((e) => e.score));
    expect(sa).toEqual(spread(b.map((e) => e.score)));
    expect(sa.mean).toBeCloseTo((3 + 5 + 7 + 40 + 90 + 10 + 1 + 2 + 3) / 9, 12);
    expect(sa.min).toBe(1);
    expect(sa.max).toBe(90);
    expect(sa.median).toBe(5);
  });

  it('reports the population std of the scores (as np.std)', () => {
    expect(spread([1, 2, 3, 4]).std).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(spread([7]).std).toBe(0);
  });
});

describe('evaluation policies of A2C', () => {
  it('act is the argmax of the policy; sampleActions draws from softmax(logits) with the given RNG', async () => {
    await initBackend('tensorflow');
    const nA = 4;
    const rows = 8;
    const agent = new A2C(
      {
        env: fakeEnv([3], 'float32', rows, nA),
        rng: new Rng(1),
        seeds: { init: 5 },
        torso: { kind: 'mlp' },
        progress: () => 0,
        onStep: () => {},
      },
      a2cSchema.parse({ numEnvs: rows }),
    );
    try {
      // Policy-head weights scaled up so the policy is far from uniform and from deterministic.
      const model = agent.checkpointParts().models.policy;
      const head = model.getLayer('policy');
      const [k, b] = head.getWeights();
      head.setWeights([k.mul(150), b]);
      const obs = Float32Array.from({ length: rows * 3 }, (_, i) => Math.sin(i));
      const net = (agent as unknown as { net: { forward(o: Float32Array, n: number): { policy: Float32Array } } }).net;
      const logits = net.forward(obs, rows).policy;
      const probs: number[][] = [];
      for (let r = 0; r < rows; r++) {
        const l = Array.from(logits.subarray(r * nA, (r + 1) * nA));
        const e = l.map((x) => Math.exp(x - Math.max(...l)));
        const z = e.reduce((a, c) => a + c, 0);
        probs.push(e.map((x) => x / z));
      }
      const greedy = agent.act(obs, rows);
      for (let r = 0; r < rows; r++) expect(greedy[r]).toBe(probs[r].indexOf(Math.max(...probs[r])));
      // Some row must be genuinely stochastic for the test to mean anything.
      expect(Math.max(...probs.map((p) => 1 - Math.max(...p)))).toBeGreaterThan(0.2);

      const draws = 4000;
      const counts = probs.map(() => new Array<number>(nA).fill(0));
      const rng = new Rng(9);
      for (let i = 0; i < draws; i++) {
        const a = agent.sampleActions(obs, rows, rng);
        for (let r = 0; r < rows; r++) counts[r][a[r]]++;
      }
      for (let r = 0; r < rows; r++) {
        for (let a = 0; a < nA; a++) {
          const q = probs[r][a];
          const sd = Math.sqrt((q * (1 - q)) / draws);
          expect(Math.abs(counts[r][a] / draws - q), `row ${r} action ${a}`).toBeLessThan(4 * sd + 1e-3);
        }
      }
      // The same RNG state gives the same draws.
      expect(agent.sampleActions(obs, rows, new Rng(3))).toEqual(agent.sampleActions(obs, rows, new Rng(3)));
    } finally {
      agent.dispose();
    }
  }, 60_000);
});
