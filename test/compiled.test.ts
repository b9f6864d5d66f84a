// The compiled TensorFlow graph steps (src/compiled/) compute what the eager tfjs code computes:
// same losses, same weights and optimizer slots after several updates (to float32 round-off),
// for DQN (plain, and Double + dueling) and A2C, on the MLP and on the CoordConv image torso,
// with Adam, RMSprop and both forms of centered RMSprop (the MinAtar preset's optimizer);
// and they get out of the way when disabled.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import { compileDqnStep, DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, AgentEnv, TrainableAgent } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { compiledAvailability } from '../src/compiled/graph.js';
import { compileForward } from '../src/compiled/steps.js';
import { FusedAdam } from '../src/optim/adam.js';
import { CenteredRMSprop } from '../src/optim/centered-rmsprop.js';
import { tf } from '../src/tf.js';
import type { TorsoOptions } from '../src/torsos.js';
import { Rng } from '../src/util/rng.js';
import { fakeEnv, type Pixel } from './helpers/fake-env.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});
afterEach(() => {
  delete process.env.COORDRL_NO_COMPILED;
});

function context(env: AgentEnv, torso: TorsoOptions): AgentContext {
  return { env, rng: new Rng(7), seeds: { init: 3 }, torso, progress: () => 0, onStep: () => {} };
}

type Updatable = { update(...args: unknown[]): Record<string, number> };

async function weightsOf(agent: TrainableAgent): Promise<Float32Array[]> {
  const parts = agent.checkpointParts();
  const model = Object.values(parts.models)[0];
  const slots = await parts.optimizer.getWeights();
  const out = [...model.getWeights(), ...slots.map((s) => s.tensor)].map((t) => t.dataSync() as Float32Array);
  return out.map((a) => a.slice());
}

function expectClose(a: Float32Array[], b: Float32Array[], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    let worst = 0;
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j] - b[i][j]) / (1e-3 + Math.abs(b[i][j])));
    expect(worst, `tensor ${i}`).toBeLessThan(tol);
  });
}

/** Both runs took the same steps: per-update scalars to `digits` places, final weights and slots to `tol`. */
function expectSameSteps(
  c: { scalars: Record<string, number>[]; weights: Float32Array[] },
  e: { scalars: Record<string, number>[]; weights: Float32Array[] },
  keys: string[],
  digits: number,
  tol: number,
): void {
  expect(c.scalars.length).toBe(e.scalars.length);
  c.scalars.forEach((s, i) => {
    for (const k of keys) expect(s[k], `${k} of update ${i}`).toBeCloseTo(e.scalars[i][k], digits);
  });
  expectClose(c.weights, e.weights, tol);
}

const DQN_SCALARS = ['loss', 'gradNorm', 'meanQ'];

/** Runs `updates` DQN updates on identical agents, compiled and eager; returns both results. */
async function dqnPair(
  shape: number[],
  dtype: 'uint8' | 'float32',
  torso: TorsoOptions,
  extra: object,
  updates: number,
  pixel?: Pixel,
) {
  const results: { scalars: Record<string, number>[]; weights: Float32Array[]; compiled: boolean }[] = [];
  for (const compiled of [true, false]) {
    if (!compiled) process.env.COORDRL_NO_COMPILED = '1';
    const ctx = context(fakeEnv(shape, dtype, 2, 3, pixel), torso);
    const agent = new DQN(ctx, dqnSchema.parse({ learningStarts: 64, bufferSize: 1000, batchSize: 16, ...extra }));
    await agent.resetEnvs(1);
    // epsilon 1 (progress 0): every action is random, so both replays hold the same transitions.
    for (let i = 0; i < 40; i++) await agent.iterate();
    const scalars: Record<string, number>[] = [];
    for (let i = 0; i < updates; i++) scalars.push((agent as unknown as Updatable).update());
    results.push({
      scalars,
      weights: await weightsOf(agent),
      compiled: (agent as unknown as { compiledUpdate: unknown }).compiledUpdate !== 'eager',
    });
    agent.dispose();
  }
  return results;
}

describe('compiled graph steps', () => {
  it('the addon is built and loads on the native backend', () => {
    const a = compiledAvailability();
    expect(a.reason).toMatch(/TensorFlow 2\.\d+/);
    expect(a.addon).not.toBeNull();
  });

  it('DQN (MLP): compiled and eager updates give the same losses, weights and Adam slots', async () => {
    const [c, e] = await dqnPair([4], 'float32', { kind: 'mlp' }, {}, 6);
    expect(c.compiled).toBe(true);
    expect(e.compiled).toBe(false);
    expectSameSteps(c, e, DQN_SCALARS, 4, 1e-3);
  }, 60_000);

  it('Double DQN with a dueling head (MLP, relu): the same', async () => {
    const [c, e] = await dqnPair(
      [5],
      'float32',
      { kind: 'mlp', activation: 'relu', hidden: [32, 16] },
      { double: true, dueling: true, nStep: 3, maxGradNorm: 0.5 },
      6,
    );
    expect(c.compiled).toBe(true);
    expectSameSteps(c, e, DQN_SCALARS, 4, 1e-3);
  }, 60_000);

  it('DQN on uint8 frames with the CoordConv torso (Rescaling, CoordConv2D, Conv2D, Flatten): the same', async () => {
    const [c, e] = await dqnPair([84, 84, 4], 'uint8', { kind: 'coordconv', hidden: [32] }, {}, 2);
    expect(c.compiled).toBe(true);
    expectSameSteps(c, e, DQN_SCALARS, 3, 1e-2);
  }, 120_000);

  it('centered RMSprop, PyTorch form (the MinAtar preset, with momentum 0.95 to exercise its slot), unclipped, CoordConv MinAtar net: the same', async () => {
    const [c, e] = await dqnPair(
      [10, 10, 4],
      'uint8',
      { kind: 'coordconv', arch: 'minatar' },
      { optimizer: 'centered-rmsprop', lr: 2.5e-4, rmsDecay: 0.95, rmsMomentum: 0.95, optimEps: 0.01, maxGradNorm: 0 },
      6,
      (i, t) => ((i * 7 + t * 13) % 11 === 0 ? 1 : 0),
    );
    expect(c.compiled).toBe(true);
    expect(e.compiled).toBe(false);
    // Saved state: iterations + ms, mg, mom for each of the 6 variables, after the 6 model weights.
    expect(c.weights.length).toBe(6 + 1 + 3 * 6);
    // Unclipped: the gradient norm is well above 0, so a zero step would show in the weights.
    expect(c.scalars[0].gradNorm).toBeGreaterThan(0.01);
    expectSameSteps(c, e, DQN_SCALARS, 4, 1e-3);
  }, 60_000);

  it('centered RMSprop, TensorFlow form (epsilon inside the root, fused kernel), clipped: the same', async () => {
    const [c, e] = await dqnPair(
      [4],
      'float32',
      { kind: 'mlp', activation: 'relu' },
      { optimizer: 'centered-rmsprop-tf', lr: 1e-3, maxGradNorm: 0.5 },
      6,
    );
    expect(c.compiled).toBe(true);
    expect(e.compiled).toBe(false);
    expectSameSteps(c, e, DQN_SCALARS, 4, 1e-3);
  }, 60_000);

  it('a max grad norm of 0 means no clipping in the compiled step too (Adam, MLP)', async () => {
    const [c, e] = await dqnPair([4], 'float32', { kind: 'mlp' }, { maxGradNorm: 0, lr: 1e-3 }, 4);
    expect(c.compiled).toBe(true);
    expectSameSteps(c, e, DQN_SCALARS, 4, 1e-3);
  }, 60_000);

  it('A2C (MLP): compiled and eager updates give the same losses, weights and RMSprop slots', async () => {
    const results: { scalars: Record<string, number>[]; weights: Float32Array[] }[] = [];
    for (const compiled of [true, false]) {
      if (!compiled) process.env.COORDRL_NO_COMPILED = '1';
      const ctx = context(fakeEnv([4], 'float32', 8, 2), { kind: 'mlp' });
      const agent = new A2C(ctx, a2cSchema.parse({ numEnvs: 8 }));
      const rng = new Rng(11);
      const n = 40;
      const obs = Float32Array.from({ length: n * 4 }, () => rng.next() * 2 - 1);
      const actions = Int32Array.from({ length: n }, () => rng.int(2));
      const adv = Float32Array.from({ length: n }, () => rng.next() - 0.5);
      const ret = Float32Array.from({ length: n }, () => rng.next() * 3);
      const scalars: Record<string, number>[] = [];
      for (let i = 0; i < 5; i++) scalars.push((agent as unknown as Updatable).update(obs, actions, adv, ret));
      const used = (agent as unknown as { compiledUpdate: unknown }).compiledUpdate;
      expect(used === 'eager').toBe(!compiled);
      results.push({ scalars, weights: await weightsOf(agent) });
      agent.dispose();
    }
    const [c, e] = results;
    expectSameSteps(c, e, ['loss', 'gradNorm', 'policyLoss', 'valueLoss', 'entropy'], 4, 1e-3);
  }, 60_000);

  it('inference follows weights changed outside the graph (setWeights), and COORDRL_NO_COMPILED=1 turns it off', () => {
    const input = tf.input({ shape: [3] });
    const out = tf.layers.dense({ units: 2, activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const net = { model, trainableVariables: () => model.trainableWeights.map((w) => w.read() as tf.Variable) };
    const owner = {};
    const fwd = compileForward(owner, net, [3], 'float32');
    expect(fwd).not.toBeNull();
    const x = new Float32Array([0.5, -1, 2]);
    const eager = () => (model.predict(tf.tensor2d(x, [1, 3])) as tf.Tensor).dataSync();
    expect(Array.from(fwd?.run(x, 1)[0] ?? [])).toEqual(Array.from(eager()).map((v) => expect.closeTo(v, 6)));
    model.setWeights([tf.ones([3, 2]), tf.fill([2], 0.25)]);
    const after = fwd?.run(x, 1)[0] ?? new Float32Array();
    expect(after[0]).toBeCloseTo(Math.tanh(1.5 + 0.25), 6);
    process.env.COORDRL_NO_COMPILED = '1';
    expect(compileForward({}, net, [3], 'float32')).toBeNull();
  });

  it.each([
    ['Adam', () => new FusedAdam(0.01)],
    ['centered RMSprop, PyTorch form (graph ops on the slot variables)', () => new CenteredRMSprop(0.01)],
  ])('weights and %s slots restored in place (setWeights) are what the next compiled steps use', async (_, make) => {
    const mlp = () => {
      const input = tf.input({ shape: [3] });
      const h = tf.layers.dense({ units: 8, activation: 'tanh' }).apply(input);
      const q = tf.layers.dense({ units: 2 }).apply(h) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: q });
      return { model, trainableVariables: () => model.trainableWeights.map((w) => w.read() as tf.Variable) };
    };
    const online = mlp();
    const target = mlp();
    const optimizer = make();
    const step = compileDqnStep(
      {},
      {
        online,
        target,
        optimizer,
        obsShape: [3],
        obsDtype: 'float32',
        numActions: 2,
        double: false,
        dueling: false,
        maxGradNorm: 10,
      },
    );
    expect(step).not.toBeNull();
    const rng = new Rng(9);
    const batch = () => ({
      obs: Float32Array.from({ length: 24 }, () => rng.next()),
      nextObs: Float32Array.from({ length: 24 }, () => rng.next()),
      actions: Int32Array.from({ length: 8 }, () => rng.int(2)),
      rewards: Float32Array.from({ length: 8 }, () => rng.next()),
      dones: new Float32Array(8),
      discounts: new Float32Array(8).fill(0.9),
    });
    const batches = Array.from({ length: 6 }, batch);
    for (const b of batches.slice(0, 3)) step?.run(b);
    const savedModel = online.model.getWeights().map((t) => t.clone());
    const savedSlots = (await optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    const first = batches.slice(3).map((b) => step?.run(b).loss);
    const firstWeights = online.model.getWeights().map((t) => Array.from(t.dataSync()));
    online.model.setWeights(savedModel);
    await optimizer.setWeights(savedSlots);
    const second = batches.slice(3).map((b) => step?.run(b).loss);
    expect(second).toEqual(first);
    expect(online.model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(firstWeights);
    expect(optimizer.iterations).toBe(6);
  });
});
