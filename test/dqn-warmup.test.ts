// DQN acts uniformly at random until learningStarts transitions (as SB3's DQN), then epsilon-greedy.
// With epsilon 0 and a constant observation, greedy actions are all the same: any spread of actions
// before learningStarts comes from the random warm-up, none after it.
import { beforeAll, describe, expect, it } from 'vitest';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentEnv, AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

/** Two envs with a constant observation; records every action they receive. */
function constantEnv(n: number, nA: number): AgentEnv & { actions: number[] } {
  const obs = new Float32Array(n * 3).fill(0.5);
  let pending: Int32Array | null = null;
  const stepOf = (a: Int32Array): AgentStep => {
    env.actions.push(...a);
    return { obs, rewards: new Float32Array(n), terminated: new Uint8Array(n), truncated: new Uint8Array(n) };
  };
  const env = {
    numEnvs: n,
    observationSpace: { shape: [3], dtype: 'float32' as const, size: 3 },
    actionSpace: { n: nA },
    actions: [] as number[],
    async reset() {
      return { obs };
    },
    async step(a: Int32Array) {
      return stepOf(a);
    },
    stepAsync(a: Int32Array) {
      pending = Int32Array.from(a);
    },
    async stepWait() {
      const a = pending as Int32Array;
      pending = null;
      return stepOf(a);
    },
  };
  return env;
}

describe('DQN warm-up', () => {
  it('acts uniformly at random before learningStarts, greedily (epsilon 0) after', async () => {
    const n = 2;
    const nA = 4;
    const env = constantEnv(n, nA);
    const hp = dqnSchema.parse({
      numEnvs: n,
      learningStarts: 400,
      bufferSize: 1000,
      epsStart: 0,
      epsEnd: 0,
      trainFreq: 1_000_000, // no gradient step: the greedy action stays the same throughout
    });
    const agent = new DQN(
      {
        env,
        rng: new Rng(7),
        seeds: { init: 7 },
        torso: { kind: 'mlp' },
        progress: () => 0.5,
        onStep: () => {},
      },
      hp,
    );
    try {
      await agent.resetEnvs(1);
      for (let t = 0; t < 400; t += n) await agent.iterate();
      const warm = env.actions.splice(0);
      const counts = Array.from({ length: nA }, (_, a) => warm.filter((x) => x === a).length / warm.length);
      for (const c of counts) expect(c).toBeGreaterThan(0.15);
      for (const c of counts) expect(c).toBeLessThan(0.35);

      const stats = await agent.iterate();
      expect(stats.scalars.epsilon).toBe(0);
      for (let t = 0; t < 50; t++) await agent.iterate();
      const greedy = agent.act(new Float32Array(3).fill(0.5), 1)[0];
      expect(new Set(env.actions)).toEqual(new Set([greedy]));
    } finally {
      agent.dispose();
    }
  });
});
