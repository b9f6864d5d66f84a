// The pipelined rollout (src/rollout.ts): the same actions on the same observations, drawn in the
// same order, as stepping all envs together; one group steps while the next one's actions are
// computed; an env error leaves no step in flight; A2C trains to the same weights bit for bit
// with and without it (fake envs here, the env server's CartPole in test/rollout-bridge.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import type { AgentEnv, AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { collectRollout, type EnvSlice, newRolloutTimes, type RolloutHooks } from '../src/rollout.js';
import { Rng } from '../src/util/rng.js';

const OBS = 3;
const ACTIONS = 4;

/**
 * Envs whose observation depends on every action they took (a hash of the history), with a log of
 * what happened when: a rollout that gave an env the wrong observation or reordered its actions
 * shows in the observations and in the log.
 */
class FakeGroup implements AgentEnv {
  readonly observationSpace = { shape: [OBS], dtype: 'float32' as const, size: OBS };
  readonly actionSpace = { n: ACTIONS };
  readonly state: number[];
  pending: Int32Array | null = null;
  failAt = -1;
  steps = 0;
  constructor(
    readonly numEnvs: number,
    readonly first: number,
    readonly log: string[],
    readonly name: string,
  ) {
    this.state = Array.from({ length: numEnvs }, (_, i) => first + i + 1);
  }
  get inFlight(): boolean {
    return this.pending !== null;
  }
  #obs(): Float32Array {
    const o = new Float32Array(this.numEnvs * OBS);
    this.state.forEach((s, i) => {
      for (let j = 0; j < OBS; j++) o[i * OBS + j] = ((s * (j + 3)) % 1009) / 1009;
    });
    return o;
  }
  async reset(): Promise<{ obs: Float32Array }> {
    return { obs: this.#obs() };
  }
  step(a: Int32Array): Promise<AgentStep> {
    this.stepAsync(a);
    return this.stepWait();
  }
  stepAsync(a: Int32Array): void {
    if (this.pending) throw new Error(`${this.name}: stepAsync while a step is in flight`);
    this.pending = a.slice();
    this.log.push(`send ${this.name}`);
  }
  async stepWait(): Promise<AgentStep> {
    const a = this.pending;
    if (!a) throw new Error(`${this.name}: stepWait without stepAsync`);
    await new Promise((r) => setImmediate(r));
    this.pending = null;
    this.log.push(`reply ${this.name}`);
    if (this.steps++ === this.failAt) throw new Error(`${this.name}: env failed`);
    a.forEach((x, i) => {
      this.state[i] = (this.state[i] * 31 + x + 7) % 100_003;
    });
    return {
      obs: this.#obs(),
      rewards: Float32Array.from(this.state, (s) => (s % 3) - 1),
      terminated: Uint8Array.from(this.state, (s) => (s % 11 === 0 ? 1 : 0)),
      truncated: new Uint8Array(this.numEnvs),
      envMs: 0.5,
    };
  }
  async close(): Promise<void> {}
}

/** All envs together (as a BridgeVecEnv): steps its groups at once, and lists them as `groups`. */
class FakeVecEnv implements AgentEnv {
  readonly observationSpace = { shape: [OBS], dtype: 'float32' as const, size: OBS };
  readonly actionSpace = { n: ACTIONS };
  readonly numEnvs: number;
  readonly groups: FakeGroup[];
  readonly log: string[] = [];
  constructor(sizes: number[], withGroups = true) {
    let first = 0;
    this.groups = sizes.map((n, k) => {
      const g = new FakeGroup(n, first, this.log, `g${k}`);
      first += n;
      return g;
    });
    this.numEnvs = first;
    if (!withGroups) Object.defineProperty(this, 'groups', { value: undefined });
  }
  #parts(): FakeGroup[] {
    return this.groups ?? [];
  }
  async reset(): Promise<{ obs: Float32Array }> {
    return { obs: cat(await Promise.all(this.#parts().map((g) => g.reset().then((r) => r.obs)))) };
  }
  step(a: Int32Array): Promise<AgentStep> {
    this.stepAsync(a);
    return this.stepWait();
  }
  stepAsync(a: Int32Array): void {
    for (const g of this.#parts()) g.stepAsync(a.subarray(g.first, g.first + g.numEnvs));
  }
  async stepWait(): Promise<AgentStep> {
    const rs = await Promise.all(this.#parts().map((g) => g.stepWait()));
    return {
      obs: cat(rs.map((r) => r.obs as Float32Array)),
      rewards: cat(rs.map((r) => r.rewards)),
      terminated: Uint8Array.from(rs.flatMap((r) => [...r.terminated])),
      truncated: Uint8Array.from(rs.flatMap((r) => [...r.truncated])),
    };
  }
}

function cat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Hooks that sample actions from the observations and a seeded RNG, and record everything per env slot. */
function recordingHooks(env: FakeVecEnv, rng: Rng) {
  const seen: string[] = [];
  const calls: string[] = [];
  const hooks: RolloutHooks = {
    act(t: number, s: EnvSlice, obs) {
      calls.push(`act t=${t} start=${s.start}`);
      env.log.push(`act ${s.start}`);
      const a = new Int32Array(s.count);
      for (let i = 0; i < s.count; i++) {
        a[i] = Math.floor(((obs[i * OBS] + rng.next()) * 1000) % ACTIONS);
        seen.push(`t=${t} env=${s.start + i} obs=${obs[i * OBS].toFixed(6)} a=${a[i]}`);
      }
      return a;
    },
    record(t: number, s: EnvSlice, step) {
      for (let i = 0; i < s.count; i++)
        seen.push(`t=${t} env=${s.start + i} r=${step.rewards[i]} d=${step.terminated[i]}`);
    },
    last(s: EnvSlice, obs) {
      for (let i = 0; i < s.count; i++) seen.push(`last env=${s.start + i} obs=${obs[i * OBS].toFixed(6)}`);
    },
  };
  return { hooks, seen, calls };
}

async function run(sizes: number[], pipeline: boolean, nSteps = 5, rollouts = 3) {
  const env = new FakeVecEnv(sizes);
  const rng = new Rng(11);
  const rec = recordingHooks(env, rng);
  let obs: Float32Array | Uint8Array = (await env.reset()).obs;
  for (let r = 0; r < rollouts; r++) obs = await collectRollout(env, obs, nSteps, rec.hooks, { pipeline });
  return { ...rec, obs, rng: rng.next(), log: env.log };
}

/** What one env slot saw and did, in its own order (the interleaving across slots may differ). */
function perEnv(seen: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of seen) {
    const env = /env=(\d+)/.exec(line)?.[1] ?? '?';
    m.set(env, [...(m.get(env) ?? []), line]);
  }
  return m;
}

describe('collectRollout', () => {
  it('pipelined: every env sees and does what it does stepped all together, with the same RNG draws', async () => {
    for (const sizes of [
      [4, 4],
      [3, 5],
      [2, 3, 3],
    ]) {
      const together = await run(sizes, false);
      const piped = await run(sizes, true);
      expect(perEnv(piped.seen)).toEqual(perEnv(together.seen));
      expect([...piped.obs]).toEqual([...together.obs]);
      expect(piped.rng).toBe(together.rng);
    }
  });

  it('pipelined: actions are computed step by step, group by group, in slot order', async () => {
    const { calls } = await run([4, 4], true, 3, 1);
    expect(calls).toEqual([0, 1, 2].flatMap((t) => [`act t=${t} start=0`, `act t=${t} start=4`]));
  });

  it("pipelined: a group's actions are computed while the other group steps", async () => {
    const { log } = await run([4, 4], true, 3, 1);
    // The second group's first actions come after the first group's step was sent and before
    // its reply; later, each group's next actions come while the other's step is out.
    expect(log.slice(0, 4)).toEqual(['act 0', 'send g0', 'act 4', 'send g1']);
    expect(log.slice(4, 7)).toEqual(['reply g0', 'act 0', 'send g0']);
    expect(log.slice(7, 10)).toEqual(['reply g1', 'act 4', 'send g1']);
    // Without pipelining both groups are sent only after all actions are known.
    const together = await run([4, 4], false, 3, 1);
    expect(together.log.slice(0, 3)).toEqual(['act 0', 'send g0', 'send g1']);
  });

  it('an env without groups, or with pipelining off, steps all envs in one batch', async () => {
    const env = new FakeVecEnv([6], false);
    expect(env.groups).toBeUndefined();
    const rec = recordingHooks(new FakeVecEnv([6]), new Rng(1));
    const single = new FakeVecEnv([6]);
    const obs = await collectRollout(single, (await single.reset()).obs, 2, rec.hooks, { pipeline: true });
    expect(obs.length).toBe(6 * OBS);
    expect(rec.calls).toEqual(['act t=0 start=0', 'act t=1 start=0']);
  });

  it('an env error mid-rollout is thrown with no step left in flight', async () => {
    const env = new FakeVecEnv([4, 4]);
    env.groups[1].failAt = 2;
    const { hooks } = recordingHooks(env, new Rng(2));
    const obs = (await env.reset()).obs;
    await expect(collectRollout(env, obs, 5, hooks, { pipeline: true })).rejects.toThrow('g1: env failed');
    expect(env.groups.map((g) => g.inFlight)).toEqual([false, false]);
  });

  it('adds up where the time went when asked', async () => {
    const env = new FakeVecEnv([4, 4]);
    const times = newRolloutTimes();
    const { hooks } = recordingHooks(env, new Rng(3));
    await collectRollout(env, (await env.reset()).obs, 5, hooks, { pipeline: true, times });
    expect(times.steps).toBe(10);
    expect(times.env).toBeCloseTo(10 * 0.5);
    for (const k of ['act', 'send', 'wait', 'record'] as const) expect(times[k]).toBeGreaterThanOrEqual(0);
    expect(times.wait).toBeGreaterThan(0);
  });
});

describe('A2C with and without the pipelined rollout', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
  });

  async function train(pipeline: boolean): Promise<{ weights: Float32Array[]; rng: number }> {
    const env = new FakeVecEnv([4, 4]);
    const rng = new Rng(5);
    const ctx = { env, rng, seeds: { init: 9 }, torso: { kind: 'mlp' as const }, progress: () => 0, onStep: () => {} };
    const agent = new A2C(ctx, a2cSchema.parse({ numEnvs: 8, pipeline }));
    try {
      await agent.resetEnvs(1);
      for (let i = 0; i < 6; i++) await agent.iterate();
      const weights = agent.net.model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
      return { weights, rng: rng.next() };
    } finally {
      agent.dispose();
    }
  }

  it('trains to the same weights bit for bit, from the same draws', async () => {
    const piped = await train(true);
    const together = await train(false);
    expect(piped.rng).toBe(together.rng);
    expect(piped.weights.length).toBe(together.weights.length);
    piped.weights.forEach((w, i) => {
      expect(Buffer.from(w.buffer).equals(Buffer.from(together.weights[i].buffer)), `weight ${i}`).toBe(true);
    });
    // The weights moved (the comparison is not vacuous).
    const fresh = new A2C(
      {
        env: new FakeVecEnv([4, 4]),
        rng: new Rng(5),
        seeds: { init: 9 },
        torso: { kind: 'mlp' },
        progress: () => 0,
        onStep: () => {},
      },
      a2cSchema.parse({ numEnvs: 8 }),
    );
    const w0 = fresh.net.model.getWeights()[0].dataSync() as Float32Array;
    expect(Buffer.from(w0.buffer).equals(Buffer.from(piped.weights[0].buffer))).toBe(false);
    fresh.dispose();
  });
});
