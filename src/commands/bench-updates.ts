// `coordrl bench nn --net mlp|minatar`: the cost of the agents' network calls for small networks,
// compiled (one TensorFlow graph run, src/compiled/) and eager (tfjs ops) side by side, with the
// breakdown that explains the difference: tfjs kernels and host reads per eager update, replay
// sampling, inference. Synthetic inputs, no env server.
//
// mlp: the agents themselves (DQN, A2C) on a CartPole-shaped env with the 64-64 tanh MLP.
// minatar: the MinAtar network (conv 16@3x3/1 on 10x10x4, dense 128, relu; Young & Tian 2019),
// built here as a tfjs model, through the compiled DQN step; eager: the same model's
// forward/backward/optimizer step with tfjs ops. Its optimizer is the MinAtar DQN preset's
// (centered RMSprop, PyTorch form) unless --optimizer says otherwise.
import { A2C, a2cSchema } from '../../agents/a2c.js';
import { DQN, dqnSchema } from '../../agents/dqn.js';
import type { AgentContext, AgentEnv, AgentStep } from '../agent.js';
import { type BackendChoice, initBackend } from '../backend.js';
import { compiledAvailability } from '../compiled/graph.js';
import { preferXla, runtimeFor } from '../compiled/runtime.js';
import { compileDqnStep } from '../compiled/steps.js';
import { type GraphRunProfile, profileRuns } from '../compiled/trace.js';
import { FusedAdam } from '../optim/adam.js';
import { CenteredRMSprop } from '../optim/centered-rmsprop.js';
import type { SlotOptimizer } from '../optim/slot-optimizer.js';
import { tf } from '../tf.js';
import { Rng } from '../util/rng.js';

export type SmallNet = 'mlp' | 'minatar';
/** The MinAtar bench's optimizer (names as DQN's --optimizer). */
export const MINATAR_BENCH_OPTIMIZERS = ['centered-rmsprop', 'centered-rmsprop-tf', 'adam'] as const;
export type MinatarBenchOptimizer = (typeof MINATAR_BENCH_OPTIMIZERS)[number];

export interface Timing {
  p50: number;
  p95: number;
}
export interface UpdateBenchResult {
  net: SmallNet;
  backend: string;
  compiled: string;
  params: number;
  /** The DQN update's optimizer (mlp: adam, the agents' default). */
  optimizer: string;
  /** DQN update (sample + forward/backward + optimizer step), batch 32, ms. */
  dqnUpdate: { compiled: Timing | null; eager: Timing };
  /** What one eager DQN update costs in calls (the overhead the compiled step removes). */
  eagerDqnUpdate: { kernels: number; hostReads: number };
  replaySampleMs: Timing | null;
  /** Greedy action for one observation, ms. */
  act: { compiled: Timing | null; eager: Timing } | null;
  /** A2C update at batch 80 (16 envs x 5 steps) and its batch-16 inference, ms (mlp only). */
  a2cUpdate: { compiled: Timing | null; eager: Timing } | null;
  a2cForward16: { compiled: Timing | null; eager: Timing } | null;
  /** What TensorFlow executed in one compiled DQN update (traced runs): node count, time per op type. */
  dqnUpdateGraph: GraphRunProfile | null;
  iterations: number;
}

/** `n` traced runs of `fn` (one session run each) on the graph of `owner`'s runtime. */
function traceRuns(owner: object, n: number, fn: () => void): GraphRunProfile | null {
  const g = runtimeFor(owner)?.g;
  if (!g) return null;
  const runs: Uint8Array[] = [];
  g.onTrace = (meta) => runs.push(meta);
  try {
    for (let i = 0; i < n; i++) fn();
  } finally {
    g.onTrace = null;
  }
  return profileRuns(runs);
}

function timing(times: number[]): Timing {
  const s = [...times].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
  return { p50: at(0.5), p95: at(0.95) };
}

function timeSync(iters: number, fn: () => void): Timing {
  for (let i = 0; i < Math.max(5, iters / 10); i++) fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return timing(times);
}

/** A CartPole-shaped env with synthetic observations (enough to fill a replay buffer). */
function syntheticEnv(numEnvs: number, shape: number[], nActions: number): AgentEnv {
  const size = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(5);
  const obs = () => Float32Array.from({ length: numEnvs * size }, () => rng.next() * 2 - 1);
  let pending: Int32Array = new Int32Array(numEnvs);
  const step = async (a: Int32Array): Promise<AgentStep> => ({
    obs: obs(),
    rewards: Float32Array.from(a, () => 1),
    terminated: Uint8Array.from(a, () => (rng.next() < 0.05 ? 1 : 0)),
    truncated: new Uint8Array(numEnvs),
  });
  return {
    numEnvs,
    observationSpace: { shape, dtype: 'float32', size },
    actionSpace: { n: nActions },
    reset: async () => ({ obs: obs() }),
    step,
    stepAsync: (a) => {
      pending = a;
    },
    stepWait: () => step(pending),
  };
}

type Private = { update(...a: unknown[]): Record<string, number>; replay: DQN['replay'] };

/** Counts tfjs kernels and host reads (dataSync/data) during `fn`. */
async function countCalls(fn: () => void): Promise<{ kernels: number; hostReads: number }> {
  const backend = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
  let reads = 0;
  const wrapped = ['readSync', 'read'].filter((k) => typeof backend[k] === 'function');
  const originals = wrapped.map((k) => backend[k]);
  wrapped.forEach((k, i) => {
    backend[k] = (...a: unknown[]) => {
      reads++;
      return originals[i].apply(backend, a);
    };
  });
  try {
    const info = await tf.profile(fn);
    return { kernels: info.kernels.length, hostReads: reads };
  } finally {
    wrapped.forEach((k, i) => {
      backend[k] = originals[i];
    });
  }
}

async function mlpBench(
  iters: number,
): Promise<Omit<UpdateBenchResult, 'net' | 'backend' | 'compiled' | 'iterations'>> {
  const make = async (compiled: boolean) => {
    if (!compiled) process.env.COORDRL_NO_COMPILED = '1';
    try {
      const env = syntheticEnv(1, [4], 2);
      const ctx: AgentContext = {
        env,
        rng: new Rng(1),
        seeds: { init: 1 },
        torso: { kind: 'mlp' },
        progress: () => 0,
        onStep: () => {},
      };
      const dqn = new DQN(ctx, dqnSchema.parse({ learningStarts: 500, bufferSize: 10_000 }));
      await dqn.resetEnvs(1);
      for (let i = 0; i < 600; i++) await dqn.iterate();
      const p = dqn as unknown as Private;
      p.update(); // builds the graph (or not) now, under this setting
      const obs1 = new Float32Array(4).fill(0.1);
      dqn.act(obs1, 1);
      const a2cEnv = syntheticEnv(16, [4], 2);
      const a2c = new A2C({ ...ctx, env: a2cEnv }, a2cSchema.parse({}));
      const rng = new Rng(2);
      const n = 80;
      const batch = {
        obs: Float32Array.from({ length: n * 4 }, () => rng.next()),
        actions: Int32Array.from({ length: n }, () => rng.int(2)),
        adv: Float32Array.from({ length: n }, () => rng.next() - 0.5),
        ret: Float32Array.from({ length: n }, () => rng.next()),
      };
      const a2cUpdate = () => (a2c as unknown as Private).update(batch.obs, batch.actions, batch.adv, batch.ret);
      a2cUpdate();
      const obs16 = batch.obs.subarray(0, 16 * 4);
      a2c.net.forward(obs16, 16);
      return { dqn, p, obs1, a2c, a2cUpdate, obs16, env };
    } finally {
      delete process.env.COORDRL_NO_COMPILED;
    }
  };
  const withCompiled = compiledAvailability().addon ? await make(true) : null;
  const eager = await make(false);
  const result = {
    params: eager.dqn.online.model.countParams(),
    optimizer: eager.dqn.hp.optimizer,
    dqnUpdate: {
      compiled: withCompiled ? timeSync(iters, () => withCompiled.p.update()) : null,
      eager: timeSync(iters, () => eager.p.update()),
    },
    eagerDqnUpdate: await countCalls(() => {
      eager.p.update();
    }),
    replaySampleMs: (() => {
      const b = eager.p.replay.allocBatch(32);
      const rng = new Rng(3);
      return timeSync(iters, () => eager.p.replay.sample(32, rng, b));
    })(),
    act: {
      compiled: withCompiled ? timeSync(iters, () => withCompiled.dqn.act(withCompiled.obs1, 1)) : null,
      eager: timeSync(iters, () => eager.dqn.act(eager.obs1, 1)),
    },
    a2cUpdate: {
      compiled: withCompiled ? timeSync(iters, withCompiled.a2cUpdate) : null,
      eager: timeSync(iters, eager.a2cUpdate),
    },
    a2cForward16: {
      compiled: withCompiled ? timeSync(iters, () => withCompiled.a2c.net.forward(withCompiled.obs16, 16)) : null,
      eager: timeSync(iters, () => eager.a2c.net.forward(eager.obs16, 16)),
    },
    dqnUpdateGraph: withCompiled ? traceRuns(withCompiled.env, 30, () => withCompiled.p.update()) : null,
  };
  for (const s of [withCompiled, eager]) {
    s?.dqn.dispose();
    s?.a2c.dispose();
  }
  return result;
}

/** The MinAtar DQN network (Young & Tian 2019) as a tfjs model: 10x10xC -> 16@3x3/1 -> 128 -> Q. */
function minatarModel(channels: number, nActions: number): tf.LayersModel {
  const input = tf.input({ shape: [10, 10, channels] });
  let x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 1, activation: 'relu' }).apply(input);
  x = tf.layers.flatten().apply(x);
  x = tf.layers.dense({ units: 128, activation: 'relu' }).apply(x);
  const q = tf.layers.dense({ units: nActions }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: q });
}

/** The MinAtar DQN preset's settings (src/presets.ts) for the centered forms, Adam as the mlp bench's. */
function minatarOptimizer(name: MinatarBenchOptimizer): SlotOptimizer {
  if (name === 'adam') return new FusedAdam(2.5e-4);
  return new CenteredRMSprop(2.5e-4, 0.95, 0.95, 0.01, name === 'centered-rmsprop-tf');
}

async function minatarBench(
  iters: number,
  optimizer: MinatarBenchOptimizer,
): Promise<Omit<UpdateBenchResult, 'net' | 'backend' | 'compiled' | 'iterations'>> {
  const nA = 6;
  const shape = [10, 10, 4];
  const asNet = (m: tf.LayersModel) => ({
    model: m,
    trainableVariables: () => m.trainableWeights.map((w) => w.read() as tf.Variable),
  });
  const online = minatarModel(4, nA);
  const target = minatarModel(4, nA);
  target.setWeights(online.getWeights());
  const rng = new Rng(4);
  const B = 32;
  const frame = () => Uint8Array.from({ length: B * 100 * 4 }, () => (rng.next() < 0.1 ? 1 : 0));
  const batch = {
    obs: frame(),
    nextObs: frame(),
    actions: Int32Array.from({ length: B }, () => rng.int(nA)),
    rewards: Float32Array.from({ length: B }, () => (rng.next() < 0.1 ? 1 : 0)),
    dones: Float32Array.from({ length: B }, () => (rng.next() < 0.02 ? 1 : 0)),
    discounts: new Float32Array(B).fill(0.99),
  };
  const owner = {};
  preferXla(owner); // as DQN asks for its MinAtar-sized networks
  const step = compileDqnStep(owner, {
    online: asNet(online),
    target: asNet(target),
    optimizer: minatarOptimizer(optimizer),
    obsShape: shape,
    obsDtype: 'uint8',
    numActions: nA,
    double: false,
    dueling: false,
    maxGradNorm: 10,
  });
  // Eager: the same forward/backward and optimizer step with tfjs ops (the DQN loss on the online net).
  const eagerOpt = minatarOptimizer(optimizer);
  const vars = online.trainableWeights.map((w) => w.read() as tf.Variable);
  const eagerUpdate = () => {
    const loss = tf.tidy(() => {
      const x = tf.tensor(batch.obs, [B, ...shape], 'float32');
      const x2 = tf.tensor(batch.nextObs, [B, ...shape], 'float32');
      const qNext = tf.max(target.apply(x2) as tf.Tensor, 1);
      const y = tf.add(
        tf.tensor1d(batch.rewards),
        tf.mul(tf.mul(tf.tensor1d(batch.discounts), tf.sub(1, tf.tensor1d(batch.dones))), qNext),
      );
      const mask = tf.oneHot(tf.tensor1d(batch.actions, 'int32'), nA);
      const { value, grads } = tf.variableGrads(
        () =>
          tf.losses.huberLoss(
            y,
            tf.sum(tf.mul(online.apply(x, { training: true }) as tf.Tensor, mask), 1),
          ) as tf.Scalar,
        vars,
      );
      eagerOpt.applyGradients(grads);
      return tf.keep(value);
    });
    loss.dataSync();
    loss.dispose();
  };
  const compiled = step ? timeSync(iters, () => step.run(batch)) : null;
  const result = {
    params: online.countParams(),
    optimizer,
    dqnUpdate: { compiled, eager: timeSync(iters, eagerUpdate) },
    dqnUpdateGraph: step ? traceRuns(owner, 30, () => step.run(batch)) : null,
    eagerDqnUpdate: await countCalls(eagerUpdate),
    replaySampleMs: null,
    act: null,
    a2cUpdate: null,
    a2cForward16: null,
  };
  tf.dispose([online, target].flatMap((m) => m.weights.map((w) => w.read())));
  return result;
}

export async function benchUpdates(opts: {
  net: SmallNet;
  backend: BackendChoice;
  iters: number;
  /** --net minatar only (default: the MinAtar DQN preset's centered-rmsprop). */
  optimizer?: MinatarBenchOptimizer;
}): Promise<UpdateBenchResult> {
  const info = await initBackend(opts.backend);
  const r =
    opts.net === 'mlp'
      ? await mlpBench(opts.iters)
      : await minatarBench(opts.iters, opts.optimizer ?? 'centered-rmsprop');
  return {
    net: opts.net,
    backend: info.backend,
    compiled: compiledAvailability().reason,
    ...r,
    iterations: opts.iters,
  };
}

export function formatUpdates(r: UpdateBenchResult): string {
  const t = (x: Timing | null) => (x ? `${x.p50.toFixed(3)} ms (p95 ${x.p95.toFixed(3)})` : 'n/a');
  const row = (name: string, v: { compiled: Timing | null; eager: Timing } | null) =>
    v ? [`  ${name.padEnd(30)} compiled ${t(v.compiled)}   eager ${t(v.eager)}`] : [];
  return [
    `${r.net === 'mlp' ? 'MLP 64-64 (CartPole shape)' : 'MinAtar net (10x10x4, conv 16@3x3, dense 128)'}, ${r.params.toLocaleString()} params, on ${r.backend}; compiled steps ${r.compiled}`,
    ...row(`DQN update, batch 32, ${r.optimizer}`, r.dqnUpdate),
    `  ${''.padEnd(30)} eager: ${r.eagerDqnUpdate.kernels} tfjs kernels, ${r.eagerDqnUpdate.hostReads} host reads per update`,
    ...(r.replaySampleMs ? [`  ${'replay sample, batch 32'.padEnd(30)} ${t(r.replaySampleMs)}`] : []),
    ...row('DQN act, 1 observation', r.act),
    ...row('A2C update, batch 80', r.a2cUpdate),
    ...row('A2C inference, batch 16', r.a2cForward16),
    ...(r.dqnUpdateGraph ? formatGraphProfile('compiled DQN update', r.dqnUpdateGraph) : []),
  ].join('\n');
}

function formatGraphProfile(what: string, p: GraphRunProfile): string[] {
  const top = p.byOp.slice(0, 12).map((o) => `${o.op} ${o.count.toFixed(0)} (${o.us.toFixed(0)} us)`);
  return [
    `  ${what}: ${p.nodesPerRun.toFixed(0)} nodes executed per run, traced span ${p.spanUs.toFixed(0)} us (${p.runs} traced runs)`,
    `    by op type (count, summed compute): ${top.join(', ')}`,
  ];
}
