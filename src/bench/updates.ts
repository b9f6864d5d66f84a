// `coordrl bench nn --net mlp|minatar|cnn`: the cost of the agents' network calls,
// compiled (one TensorFlow graph run, src/compiled/) and eager (tfjs ops) side by side, with the
// breakdown that explains the difference: tfjs kernels and host reads per eager update, replay
// sampling, inference. Synthetic inputs, no env server.
//
// mlp: the agents themselves (DQN, A2C) on a CartPole-shaped env with the 64-64 tanh MLP.
// cnn: the same agents on Atari-shaped uint8 frames (84x84x4) with the Nature CNN; with
// --precision bf16 the compiled column runs bf16 mixed precision (src/compiled/precision.ts).
// minatar: the MinAtar network (conv 16@3x3/1 on 10x10x4, dense 128, relu; Young & Tian 2019) of
// src/torsos.ts with a Q head, through the compiled DQN step; eager: the same model's
// forward/backward/optimizer step with tfjs ops. Its optimizer is the MinAtar DQN preset's
// (centered RMSprop, PyTorch form) unless --optimizer says otherwise.
import { A2C, a2cSchema } from '../../agents/a2c.js';
import { compileDqnStep, DQN, dqnSchema } from '../../agents/dqn.js';
import type { AgentContext, AgentEnv } from '../agent.js';
import { type BackendChoice, initBackend } from '../backend.js';
import { compiledAvailability } from '../compiled/graph.js';
import type { Precision } from '../compiled/precision.js';
import { preferXla, runtimeFor, setCompiledPrecision } from '../compiled/runtime.js';
import { type GraphRunProfile, profileRuns } from '../compiled/trace.js';
import { FusedAdam } from '../optim/adam.js';
import { CenteredRMSprop } from '../optim/centered-rmsprop.js';
import type { SlotOptimizer } from '../optim/slot-optimizer.js';
import { tf } from '../tf.js';
import { applyTorso, type TorsoOptions } from '../torsos.js';
import { scriptedEnv } from '../training/scripted-env.js';
import { Rng } from '../util/rng.js';
import { percentile, timeCalls } from './timing.js';

/** mlp: CartPole's 64-64 MLP; minatar: the MinAtar network; cnn: the agents' Nature CNN on Atari frames. */
export type AgentNet = 'mlp' | 'minatar' | 'cnn';
/** The MinAtar bench's optimizer (names as DQN's --optimizer). */
export const MINATAR_BENCH_OPTIMIZERS = ['centered-rmsprop', 'centered-rmsprop-tf', 'adam'] as const;
export type MinatarBenchOptimizer = (typeof MINATAR_BENCH_OPTIMIZERS)[number];

export interface Timing {
  min: number;
  p50: number;
  p95: number;
}
/**
 * One call timed each way: compiled fp32 (null when the addon is not available) and compiled bf16
 * (with --precision bf16 only) interleaved call by call so a shared machine's load falls on both
 * alike, then eager on its own (see timeRow).
 */
export interface Row {
  compiled: Timing | null;
  bf16?: Timing | null;
  eager: Timing;
}
export interface UpdateBenchResult {
  net: AgentNet;
  backend: string;
  compiled: string;
  /** bf16: rows carry a compiled bf16 timing beside the fp32 ones (the eager column is fp32). */
  precision: Precision;
  params: number;
  /** The DQN update's optimizer (mlp: adam, the agents' default). */
  optimizer: string;
  /** DQN update (sample + forward/backward + optimizer step), batch 32, ms. */
  dqnUpdate: Row;
  /** What one eager DQN update costs in calls (the overhead the compiled step removes). */
  eagerDqnUpdate: { kernels: number; hostReads: number };
  replaySampleMs: Timing | null;
  /** Greedy action for one observation, ms. */
  act: Row | null;
  /** A2C update at batch 80 (16 envs x 5 steps) and its batch-16 inference, ms (mlp and cnn). */
  a2cUpdate: Row | null;
  a2cForward16: Row | null;
  /** What TensorFlow executed in one compiled (fp32) DQN update (traced runs): node count, time per op type. */
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

/** Summary of ascending times. */
function timing(sorted: number[]): Timing {
  return { min: sorted[0], p50: percentile(sorted, 50, 'nearest'), p95: percentile(sorted, 95, 'nearest') };
}

/** Warm-up calls before the timed ones: a tenth as many, at least 5. */
const warmupFor = (iters: number) => Math.max(5, iters / 10);

/** A row: compiled fp32, compiled bf16 (when given) and eager timed interleaved. */
async function timeRow(
  iters: number,
  compiled: (() => void) | null,
  bf16: (() => void) | null | undefined,
  eager: () => void,
): Promise<Row> {
  // The compiled precisions alternate call by call (a shared machine's load falls on both alike);
  // eager runs on its own afterwards: its hundreds of tfjs kernels between two graph runs evict
  // the caches a training loop keeps warm, which made the compiled calls look 2-3x slower.
  const fns = [compiled, bf16 ?? null];
  const live = fns.filter((f) => f !== null);
  const times = await timeCalls(live, iters, warmupFor(iters));
  const [c, b] = fns.map((f) => (f ? timing(times[live.indexOf(f)]) : null));
  const e = await timeSync(iters, eager);
  return { compiled: c, ...(bf16 !== undefined ? { bf16: b } : {}), eager: e };
}

async function timeSync(iters: number, fn: () => void): Promise<Timing> {
  const [times] = await timeCalls([fn], iters, warmupFor(iters));
  return timing(times);
}

/** An env with random observations (enough to fill a replay buffer): CartPole- or Atari-shaped. */
function syntheticEnv(numEnvs: number, shape: number[], nActions: number, dtype: 'uint8' | 'float32'): AgentEnv {
  const rng = new Rng(5);
  return scriptedEnv({
    numEnvs,
    shape,
    dtype,
    nActions,
    observe: (o) => {
      for (let i = 0; i < o.length; i++) o[i] = dtype === 'uint8' ? rng.int(256) : rng.next() * 2 - 1;
    },
    reward: () => 1,
    terminated: () => rng.next() < 0.05,
  });
}

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

/** What the agents bench builds its DQN and A2C from: CartPole's MLP or the Atari Nature CNN. */
interface AgentBenchSpec {
  shape: number[];
  dtype: 'uint8' | 'float32';
  nActions: number;
  torso: TorsoOptions;
  /** Replay settings that fill the buffer quickly (the CNN's frames are 28 KB each). */
  dqn: { learningStarts: number; bufferSize: number };
  precision: Precision;
}

const MLP_SPEC: Omit<AgentBenchSpec, 'precision'> = {
  shape: [4],
  dtype: 'float32',
  nActions: 2,
  torso: { kind: 'mlp' },
  dqn: { learningStarts: 500, bufferSize: 10_000 },
};
const CNN_SPEC: Omit<AgentBenchSpec, 'precision' | 'torso'> = {
  shape: [84, 84, 4],
  dtype: 'uint8',
  nActions: 6,
  dqn: { learningStarts: 100, bufferSize: 1_000 },
};

async function agentBench(
  iters: number,
  spec: AgentBenchSpec,
): Promise<Omit<UpdateBenchResult, 'net' | 'backend' | 'compiled' | 'iterations' | 'precision'>> {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const make = async (mode: Precision | 'eager') => {
    if (mode === 'eager') process.env.COORDRL_NO_COMPILED = '1';
    try {
      const env = syntheticEnv(1, spec.shape, spec.nActions, spec.dtype);
      if (mode !== 'eager') setCompiledPrecision(env, mode);
      const ctx: AgentContext = {
        env,
        rng: new Rng(1),
        seeds: { init: 1 },
        torso: spec.torso,
        progress: () => 0,
        onStep: () => {},
      };
      const dqn = new DQN(ctx, dqnSchema.parse(spec.dqn));
      await dqn.resetEnvs(1);
      for (let i = 0; i < spec.dqn.learningStarts + 100; i++) await dqn.iterate();
      dqn.updateFromReplay(); // builds the graph (or not) now, under this setting
      const obs1 = spec.dtype === 'uint8' ? new Uint8Array(size).fill(100) : new Float32Array(size).fill(0.1);
      dqn.act(obs1, 1);
      const a2cEnv = syntheticEnv(16, spec.shape, spec.nActions, spec.dtype);
      if (mode !== 'eager') setCompiledPrecision(a2cEnv, mode);
      const a2c = new A2C({ ...ctx, env: a2cEnv }, a2cSchema.parse({}));
      const rng = new Rng(2);
      const n = 80;
      const batch = {
        obs:
          spec.dtype === 'uint8'
            ? Uint8Array.from({ length: n * size }, () => rng.int(256))
            : Float32Array.from({ length: n * size }, () => rng.next()),
        actions: Int32Array.from({ length: n }, () => rng.int(spec.nActions)),
        adv: Float32Array.from({ length: n }, () => rng.next() - 0.5),
        ret: Float32Array.from({ length: n }, () => rng.next()),
      };
      const a2cUpdate = () => a2c.updateOnBatch(batch.obs, batch.actions, batch.adv, batch.ret);
      a2cUpdate();
      const obs16 = batch.obs.subarray(0, 16 * size);
      a2c.net.forward(obs16, 16);
      return { dqn, obs1, a2c, a2cUpdate, obs16, env };
    } finally {
      delete process.env.COORDRL_NO_COMPILED;
    }
  };
  const addon = compiledAvailability().addon !== null;
  const fp32 = addon ? await make('fp32') : null;
  // undefined: no bf16 column; null: asked for, but there is no compiled path.
  const bf16 = spec.precision === 'bf16' ? (addon ? await make('bf16') : null) : undefined;
  const eager = await make('eager');
  type Setup = typeof eager;
  const row = (call: (s: Setup) => void) =>
    timeRow(iters, fp32 && (() => call(fp32)), bf16 === undefined ? undefined : bf16 && (() => call(bf16)), () =>
      call(eager),
    );
  const result = {
    params: eager.dqn.online.model.countParams(),
    optimizer: eager.dqn.hp.optimizer,
    dqnUpdate: await row((s) => s.dqn.updateFromReplay()),
    eagerDqnUpdate: await countCalls(() => {
      eager.dqn.updateFromReplay();
    }),
    replaySampleMs: await (() => {
      const b = eager.dqn.replay.allocBatch(32);
      const rng = new Rng(3);
      return timeSync(iters, () => eager.dqn.replay.sample(32, rng, b));
    })(),
    act: await row((s) => s.dqn.act(s.obs1, 1)),
    a2cUpdate: await row((s) => s.a2cUpdate()),
    a2cForward16: await row((s) => s.a2c.net.forward(s.obs16, 16)),
    dqnUpdateGraph: fp32 ? traceRuns(fp32.env, 30, () => fp32.dqn.updateFromReplay()) : null,
  };
  for (const s of [fp32, bf16, eager]) {
    s?.dqn.dispose();
    s?.a2c.dispose();
  }
  return result;
}

/**
 * The MinAtar network of src/torsos.ts (Young & Tian 2019: 10x10xC -> 16@3x3/1 -> 128, relu) with a
 * Q head, as a tfjs model; tfjs's default (unseeded) initializers: the timings do not depend on them.
 */
function minatarModel(channels: number, nActions: number): tf.LayersModel {
  const input = tf.input({ shape: [10, 10, channels] });
  const features = applyTorso(input, { kind: 'conv', arch: 'minatar' });
  const q = tf.layers.dense({ units: nActions }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: q });
}

/** The MinAtar DQN preset's settings (src/algorithms/dqn.ts) for the centered forms, Adam as the mlp bench's. */
function minatarOptimizer(name: MinatarBenchOptimizer): SlotOptimizer {
  if (name === 'adam') return new FusedAdam(2.5e-4);
  return new CenteredRMSprop(2.5e-4, 0.95, 0.95, 0.01, name === 'centered-rmsprop-tf');
}

async function minatarBench(
  iters: number,
  optimizer: MinatarBenchOptimizer,
  precision: Precision,
): Promise<Omit<UpdateBenchResult, 'net' | 'backend' | 'compiled' | 'iterations' | 'precision'>> {
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
  const compiledStep = (p: Precision, on: tf.LayersModel, tg: tf.LayersModel) => {
    const owner = {};
    preferXla(owner); // as DQN asks for its MinAtar-sized networks
    setCompiledPrecision(owner, p);
    const st = compileDqnStep(owner, {
      online: asNet(on),
      target: asNet(tg),
      optimizer: minatarOptimizer(optimizer),
      obsShape: shape,
      obsDtype: 'uint8',
      numActions: nA,
      double: false,
      dueling: false,
      maxGradNorm: 10,
    });
    return st && { step: st, owner };
  };
  const fp32Step = compiledStep('fp32', online, target);
  const step = fp32Step?.step ?? null;
  // bf16: its own copy of the networks (a graph writes its new weights back into its models).
  const copies = precision === 'bf16' ? [minatarModel(4, nA), minatarModel(4, nA)] : [];
  for (const m of copies) m.setWeights(online.getWeights());
  const bf16Step = copies.length ? (compiledStep('bf16', copies[0], copies[1])?.step ?? null) : undefined;
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
  const result = {
    params: online.countParams(),
    optimizer,
    dqnUpdate: await timeRow(
      iters,
      step && (() => step.run(batch)),
      bf16Step === undefined ? undefined : bf16Step && (() => bf16Step.run(batch)),
      eagerUpdate,
    ),
    dqnUpdateGraph: fp32Step ? traceRuns(fp32Step.owner, 30, () => fp32Step.step.run(batch)) : null,
    eagerDqnUpdate: await countCalls(eagerUpdate),
    replaySampleMs: null,
    act: null,
    a2cUpdate: null,
    a2cForward16: null,
  };
  tf.dispose([online, target, ...copies].flatMap((m) => m.weights.map((w) => w.read())));
  return result;
}

export async function benchUpdates(opts: {
  net: AgentNet;
  backend: BackendChoice;
  iters: number;
  /** --net minatar only (default: the MinAtar DQN preset's centered-rmsprop). */
  optimizer?: MinatarBenchOptimizer;
  /** --net cnn: the Nature CNN's torso (default conv). */
  torso?: 'conv' | 'coordconv';
  /** The compiled graphs' precision (default fp32). */
  precision?: Precision;
}): Promise<UpdateBenchResult> {
  const info = await initBackend(opts.backend);
  const precision = opts.precision ?? 'fp32';
  const r =
    opts.net === 'mlp'
      ? await agentBench(opts.iters, { ...MLP_SPEC, precision })
      : opts.net === 'cnn'
        ? await agentBench(opts.iters, { ...CNN_SPEC, torso: { kind: opts.torso ?? 'conv' }, precision })
        : await minatarBench(opts.iters, opts.optimizer ?? 'centered-rmsprop', precision);
  return {
    net: opts.net,
    backend: info.backend,
    compiled: compiledAvailability().reason,
    precision,
    ...r,
    iterations: opts.iters,
  };
}

export function formatUpdates(r: UpdateBenchResult): string {
  const t = (x: Timing | null) => (x ? `${x.p50.toFixed(3)} ms (p95 ${x.p95.toFixed(3)})` : 'n/a');
  const row = (name: string, v: Row | null) =>
    v
      ? [
          `  ${name.padEnd(30)} compiled ${t(v.compiled)}${v.bf16 !== undefined ? `   compiled bf16 ${t(v.bf16)}` : ''}   eager ${t(v.eager)}`,
        ]
      : [];
  const title = {
    mlp: 'MLP 64-64 (CartPole shape)',
    minatar: 'MinAtar net (10x10x4, conv 16@3x3, dense 128)',
    cnn: 'Nature CNN (84x84x4 uint8 frames, 6 actions)',
  }[r.net];
  return [
    `${title}, ${r.params.toLocaleString()} params, on ${r.backend}; compiled steps ${r.compiled}`,
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
