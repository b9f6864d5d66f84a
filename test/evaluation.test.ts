// Evaluation with a fixed episode quota per env (SB3's evaluate_policy), on a scripted env whose
// episode lengths differ a lot between envs: the first-N-finished rule would fill the sample with
// the short episodes of env 0 and report their score.
import { describe, expect, it } from 'vitest';
import type { AgentEnv, AgentStep } from '../src/agent.js';
import { episodeQuota, playEpisodes, spread } from '../src/training/evaluation.js';

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
