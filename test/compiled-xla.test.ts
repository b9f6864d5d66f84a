// DQN's compiled graphs run through XLA for MinAtar-sized grids: what TensorFlow executes (a
// traced session run, src/compiled/trace.ts) is one XLA cluster instead of hundreds of small ops;
// flat observations (CartPole), larger grids and COORDRL_XLA=0 keep the plain executor, COORDRL_XLA=1
// forces XLA. (That
// compiled still equals eager with XLA on is test/compiled.test.ts; exact resume, resume.test.ts.)
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, AgentEnv, AgentStep } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { runtimeFor } from '../src/compiled/runtime.js';
import { executedNodes, profileRuns } from '../src/compiled/trace.js';
import type { TorsoOptions } from '../src/torsos.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});
afterEach(() => {
  delete process.env.COORDRL_XLA;
});

function fakeEnv(shape: number[]): AgentEnv {
  const size = shape.reduce((a, b) => a * b, 1);
  let t = 0;
  const obs = () => Float32Array.from({ length: size }, (_, i) => ((i * 7 + t++ * 13) % 17 < 3 ? 1 : 0));
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
    observationSpace: { shape, dtype: 'float32', size },
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
async function tracedUpdateOps(shape: number[], n = 3): Promise<{ ops: string[]; nodes: number; actOps: string[] }> {
  const env = fakeEnv(shape);
  const torso: TorsoOptions = shape.length === 3 ? { kind: 'conv', arch: 'minatar' } : { kind: 'mlp' };
  const ctx: AgentContext = {
    env,
    rng: new Rng(1),
    seeds: { init: 1 },
    torso,
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
    const nodes = profileRuns(runs).nodesPerRun;
    const actRuns: Uint8Array[] = [];
    if (g) g.onTrace = (m) => actRuns.push(m);
    const size = shape.reduce((a, b) => a * b, 1);
    agent.act(new Float32Array(size), 1); // builds the forward graph
    agent.act(new Float32Array(size).fill(1), 1);
    if (g) g.onTrace = null;
    return { ops, nodes, actOps: actRuns.flatMap((r) => executedNodes(r).map((x) => x.op)) };
  } finally {
    agent.dispose();
  }
}

describe('XLA for MinAtar-sized DQN graphs', () => {
  it('a MinAtar-shaped DQN update runs as an XLA cluster, its greedy forward pass does not', async () => {
    const { ops, actOps } = await tracedUpdateOps([10, 10, 4]);
    expect(ops).toContain('_XlaRun');
    expect(ops.some((op) => /MatMul/.test(op))).toBe(false);
    expect(actOps).not.toContain('_XlaRun');
    expect(actOps.some((op) => /MatMul/.test(op))).toBe(true);
  }, 60_000);

  it('COORDRL_XLA=0 keeps the plain executor: no cluster, several times the nodes', async () => {
    const xla = await tracedUpdateOps([10, 10, 4]);
    process.env.COORDRL_XLA = '0';
    const plain = await tracedUpdateOps([10, 10, 4]);
    expect(plain.ops).not.toContain('_XlaRun');
    expect(plain.ops.some((op) => /MatMul/.test(op))).toBe(true);
    expect(plain.nodes).toBeGreaterThan(2 * xla.nodes);
  }, 60_000);

  it('flat observations (CartPole) and larger grids keep the plain executor unless COORDRL_XLA=1', async () => {
    expect((await tracedUpdateOps([4], 1)).ops).not.toContain('_XlaRun');
    expect((await tracedUpdateOps([12, 12, 8], 1)).ops).not.toContain('_XlaRun');
    process.env.COORDRL_XLA = '1';
    expect((await tracedUpdateOps([4], 1)).ops).toContain('_XlaRun');
  }, 60_000);
});
