// DQN's compiled graphs run through XLA for small observations (CartPole, MinAtar): what
// TensorFlow executes (a traced session run, src/compiled/trace.ts) is one XLA cluster instead of
// hundreds of small ops; COORDRL_XLA=0 and large observations keep the plain executor. (That
// compiled still equals eager with XLA on is test/compiled.test.ts; exact resume, resume.test.ts.)
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, AgentEnv, AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { runtimeFor } from '../src/compiled/runtime.js';
import { executedNodes, profileRuns } from '../src/compiled/trace.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});
afterEach(() => {
  delete process.env.COORDRL_XLA;
});

function fakeEnv(size: number): AgentEnv {
  let t = 0;
  const obs = () => Float32Array.from({ length: size }, (_, i) => ((i * 7 + t++ * 13) % 17) / 17);
  const step = async (): Promise<AgentStep> => ({
    obs: obs(),
    rewards: new Float32Array([t % 5 === 0 ? 1 : 0]),
    terminated: new Uint8Array([t % 50 === 0 ? 1 : 0]),
    truncated: new Uint8Array(1),
    finalObs: new Map(),
    episodes: [],
  });
  let pending: Promise<AgentStep> | null = null;
  return {
    numEnvs: 1,
    observationSpace: { shape: [size], dtype: 'float32', size },
    actionSpace: { n: 2 },
    reset: async () => ({ obs: obs() }),
    step,
    stepAsync: () => {
      pending = step();
    },
    stepWait: () => pending ?? step(),
  };
}

/** The op types TensorFlow executed in each of `n` traced DQN updates. */
async function tracedUpdateOps(size: number, n = 3): Promise<{ ops: string[]; nodes: number }> {
  const env = fakeEnv(size);
  const ctx: AgentContext = {
    env,
    rng: new Rng(1),
    seeds: { init: 1 },
    torso: { kind: 'mlp' },
    progress: () => 0,
    onStep: () => {},
  };
  const agent = new DQN(ctx, dqnSchema.parse({ learningStarts: 40, bufferSize: 500, batchSize: 8, trainFreq: 1 }));
  try {
    await agent.resetEnvs(1);
    for (let i = 0; i < 50; i++) await agent.iterate(); // past learningStarts: the update is compiled
    const g = runtimeFor(env)?.g;
    expect(g).toBeTruthy();
    const runs: Uint8Array[] = [];
    if (g) g.onTrace = (m) => runs.push(m);
    for (let i = 0; i < n; i++) (agent as unknown as { update(): unknown }).update();
    if (g) g.onTrace = null;
    expect(runs.length).toBe(n);
    const ops = runs.flatMap((r) => executedNodes(r).map((x) => x.op));
    return { ops, nodes: profileRuns(runs).nodesPerRun };
  } finally {
    agent.dispose();
  }
}

describe('XLA for small DQN graphs', () => {
  it('a CartPole-sized DQN update runs as an XLA cluster', async () => {
    const { ops } = await tracedUpdateOps(4);
    expect(ops).toContain('_XlaRun');
    expect(ops).not.toContain('MatMul');
  }, 60_000);

  it('COORDRL_XLA=0 keeps the plain executor: no cluster, several times the nodes', async () => {
    const xla = await tracedUpdateOps(4);
    process.env.COORDRL_XLA = '0';
    const plain = await tracedUpdateOps(4);
    expect(plain.ops).not.toContain('_XlaRun');
    expect(plain.ops.some((op) => /MatMul/.test(op))).toBe(true);
    expect(plain.nodes).toBeGreaterThan(2 * xla.nodes);
  }, 60_000);

  it('observations larger than MinAtar keep the plain executor', async () => {
    const { ops } = await tracedUpdateOps(1600, 1);
    expect(ops).not.toContain('_XlaRun');
  }, 60_000);
});
