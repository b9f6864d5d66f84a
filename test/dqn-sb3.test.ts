// DQN as SB3 runs it: uniformly random actions until learningStarts transitions (then
// epsilon-greedy), and `init: torch` for PyTorch's default initialisation of every layer.
import { beforeAll, describe, expect, it } from 'vitest';
import { DQN, dqnSchema } from '../agents/dqn.js';
import { type AgentEnv, type AgentStep, PolicyNetwork } from '../src/agent.js';
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
  // With epsilon 0 and a constant observation, greedy actions are all the same: any spread of
  // actions before learningStarts comes from the random warm-up, none after it.
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

describe("PyTorch's default initialisation (init: torch)", () => {
  const imageEnv = constantEnv(1, 6);
  const ctxFor = (shape: number[], kind: 'coordconv' | 'mlp', seed: number) => ({
    env: { ...imageEnv, observationSpace: { shape, dtype: 'float32' as const, size: shape.reduce((a, b) => a * b) } },
    torso: { kind },
    seeds: { init: seed },
  });

  it('draws every kernel and bias from U(-1/sqrt(fanIn), 1/sqrt(fanIn)), seeded', () => {
    const heads = [{ name: 'q', units: 6, gain: 1 }];
    const net = new PolicyNetwork(ctxFor([84, 84, 4], 'coordconv', 3), { heads, init: 'torch' });
    const again = new PolicyNetwork(ctxFor([84, 84, 4], 'coordconv', 3), { heads, init: 'torch' });
    try {
      const layers = net.model.layers.filter((l) => l.getWeights().length > 0);
      expect(layers.length).toBe(5); // 3 convolutions (the first a CoordConv), dense 512, the head
      for (const layer of layers) {
        const [kernel, bias] = layer.getWeights();
        const fanIn = kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const bound = 1 / Math.sqrt(fanIn);
        for (const w of [kernel, bias]) {
          const v = w.dataSync() as Float32Array;
          let lo = Infinity;
          let hi = -Infinity;
          let sq = 0;
          for (const x of v) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
            sq += x * x;
          }
          expect(lo).toBeGreaterThanOrEqual(-bound);
          expect(hi).toBeLessThanOrEqual(bound);
          if (v.length >= 500) expect(sq / v.length / ((bound * bound) / 3)).toBeCloseTo(1, 1); // variance of U(-b, b)
        }
      }
      // CoordConv's first kernel sees 4 + 2 channels: fanIn 8 * 8 * 6.
      expect(layers[0].getWeights()[0].shape).toEqual([8, 8, 6, 32]);
      const a = net.model.getWeights().map((w) => Array.from(w.dataSync()));
      const b = again.model.getWeights().map((w) => Array.from(w.dataSync()));
      expect(a).toEqual(b);
    } finally {
      net.dispose();
      again.dispose();
    }
  });

  it('is what a DQN with init torch builds (the default stays orthogonal, zero biases)', () => {
    const env = constantEnv(1, 2);
    const ctx = {
      env,
      rng: new Rng(1),
      seeds: { init: 1 },
      torso: { kind: 'mlp' as const },
      progress: () => 0,
      onStep: () => {},
    };
    const torch = new DQN(ctx, dqnSchema.parse({ init: 'torch', bufferSize: 10 }));
    const ortho = new DQN(ctx, dqnSchema.parse({ bufferSize: 10 }));
    try {
      const biasOf = (d: DQN) => Array.from(d.online.model.getLayer('q').getWeights()[1].dataSync());
      expect(biasOf(ortho)).toEqual([0, 0]);
      expect(biasOf(torch).every((x) => x !== 0 && Math.abs(x) <= 1 / Math.sqrt(64))).toBe(true);
      // The target network starts as a copy of the online one.
      const t = torch.target.model.getWeights().map((w) => Array.from(w.dataSync()));
      expect(t).toEqual(torch.online.model.getWeights().map((w) => Array.from(w.dataSync())));
    } finally {
      torch.dispose();
      ortho.dispose();
    }
  });
});
