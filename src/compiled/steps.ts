// Compiled versions of the agents' network calls: inference, DQN's update and A2C's update, each
// one graph run (forward, loss, gradients, global-norm clipping, optimizer apply, reading the new
// weights back). The losses are the same formulas as the eager code in agents/dqn.ts and
// agents/a2c.ts (test/compiled.test.ts checks that both give the same numbers); an agent uses
// these when `compile*` returns one and its eager code otherwise (pure-JS backend, addon not
// built, COORDRL_NO_COMPILED=1, or a layer this module cannot rebuild).

import type { SlotOptimizer } from '../optim/slot-optimizer.js';
import type { tf } from '../tf.js';
import { note } from '../util/output.js';
import { type Attr, DT, type Graph, type Out } from './graph.js';
import { buildForward, UncompilableModelError } from './model-graph.js';
import { compileOptimizerStep } from './optimizer-graph.js';
import { type CompiledRuntime, runtimeFor } from './runtime.js';

type Obs = Uint8Array | Float32Array;
/** A network as the compiled steps see it (PolicyNetwork satisfies it). */
export interface CompilableNet {
  readonly model: tf.LayersModel;
  trainableVariables(): tf.Variable[];
}

let warned = false;
/**
 * Runs `build`; when the graph cannot be built (a layer or optimizer this module does not
 * rebuild, an op without a registered gradient) says why once and returns null: the caller
 * stays eager.
 */
function tryCompile<T>(build: () => T): T | null {
  try {
    return build();
  } catch (e) {
    const why = e instanceof UncompilableModelError ? e.message : `graph build failed: ${(e as Error).message}`;
    if (!warned) note(`compiled TensorFlow step not used (${why}); running eager tfjs ops`);
    warned = true;
    return null;
  }
}

/** The network's input placeholder (uint8 frames are widened inside the graph). */
function obsInput(g: Graph, shape: readonly number[], dtype: 'uint8' | 'float32'): { feed: Out; x: Out } {
  const feed = g.placeholder(dtype === 'uint8' ? DT.uint8 : DT.float, [-1, ...shape]);
  return { feed, x: dtype === 'uint8' ? g.cast(feed, DT.uint8, DT.float) : feed };
}

function obsSpec(obs: Obs, batch: number, shape: readonly number[]): [number, number[], Obs] {
  return [obs instanceof Uint8Array ? DT.uint8 : DT.float, [batch, ...shape], obs];
}

/**
 * The network's outputs (float32). `training`: the forward passes of an update, which run at the
 * runtime's precision (bf16: mixed precision, model-graph.ts); inference always runs fp32, where
 * casting the weights on every call costs more than a small batch gains (docs/speed.md).
 */
function forwardOf(rt: CompiledRuntime, net: CompilableNet, x: Out, training = true): Out[] {
  return buildForward(rt.g, net.model, x, (v) => rt.mirror(v).read, training ? rt.precision : 'fp32');
}

/** Inference: the model's outputs for a batch of observations, one graph run. */
export class CompiledForward {
  private readonly feed: Out;
  private readonly outs: Out[];

  constructor(
    private readonly rt: CompiledRuntime,
    net: CompilableNet,
    private readonly shape: readonly number[],
    dtype: 'uint8' | 'float32',
  ) {
    const { feed, x } = obsInput(rt.g, shape, dtype);
    this.feed = feed;
    this.outs = forwardOf(rt, net, x, false);
  }

  run(obs: Obs, batch: number): Float32Array[] {
    this.rt.syncIn();
    return this.rt.g.run([[this.feed, obsSpec(obs, batch, this.shape)]], this.outs).map(([v]) => v as Float32Array);
  }
}

export function compileForward(
  owner: object,
  net: CompilableNet,
  shape: readonly number[],
  dtype: 'uint8' | 'float32',
): CompiledForward | null {
  const rt = runtimeFor(owner);
  if (!rt) return null;
  // Inference stays out of XLA: a forward pass of one observation measured 5x slower as a cluster
  // (57 -> 288 us per act on MinAtar) while the update gained.
  const noXla: Attr[] = rt.xla ? [['_XlaCompile', 'bool', false]] : [];
  return tryCompile(() => rt.g.withAttrs(noXla, () => new CompiledForward(rt, net, shape, dtype)));
}

/** Gradients of `loss` clipped to a global norm, applied by `optimizer`; new weights read back. */
class TrainStep {
  private readonly vars: tf.Variable[];
  private readonly fetches: Out[];
  private readonly applies: number[];
  private readonly feedsOf: () => [Out, [number, number[], Float32Array]][];
  private readonly statNames: string[];

  constructor(
    private readonly rt: CompiledRuntime,
    net: CompilableNet,
    private readonly optimizer: SlotOptimizer,
    loss: Out,
    stats: Record<string, Out>,
    maxGradNorm: number,
  ) {
    const g = rt.g;
    this.vars = net.trainableVariables();
    const params = this.vars.map((v) => rt.mirror(v));
    const grads = g.gradients(
      [loss],
      params.map((p) => p.read),
    );
    // clip_grad_norm_: scale = min(1, max / (norm + 1e-6)), as src/util/grads.ts does eagerly.
    const norm = g.sqrt(
      g.out(
        'AddN',
        [grads.map((d) => g.sumOfSquares(d))],
        [
          ['N', 'int', grads.length],
          ['T', 'type', DT.float],
        ],
      ),
    );
    // maxGradNorm 0 means no clipping (the eager path's Infinity), not a zero step.
    const clipped =
      maxGradNorm > 0
        ? ((scale: Out) => grads.map((d) => g.mul(d, scale)))(
            g.minimum(g.constF(1), g.div(g.constF(maxGradNorm), g.add(norm, g.constF(1e-6)))),
          )
        : grads;
    const step = compileOptimizerStep(rt, optimizer, this.vars, params, clipped);
    this.applies = step.applies;
    this.feedsOf = step.feeds;
    this.statNames = ['loss', 'gradNorm', ...Object.keys(stats)];
    this.fetches = [loss, norm, ...Object.values(stats), ...rt.readsAfter(params, step.applies)];
  }

  run(feeds: [Out, [number, number[], Obs | Int32Array]][]): Record<string, number> {
    this.rt.syncIn();
    const out = this.rt.g.run([...feeds, ...this.feedsOf()], this.fetches, this.applies);
    this.optimizer.countStep();
    const k = this.statNames.length;
    this.rt.writeBack(
      this.vars,
      out.slice(k).map(([v]) => v as Float32Array),
    );
    const scalars: Record<string, number> = {};
    this.statNames.forEach((name, i) => {
      scalars[name] = (out[i][0] as Float32Array)[0];
    });
    return scalars;
  }
}

/** What DQN's update reads from a replay batch. */
export interface DqnBatch {
  obs: Obs;
  nextObs: Obs;
  actions: Int32Array;
  rewards: Float32Array;
  dones: Float32Array;
  discounts: Float32Array;
}

export interface DqnStepOptions {
  online: CompilableNet;
  target: CompilableNet;
  optimizer: SlotOptimizer;
  obsShape: readonly number[];
  obsDtype: 'uint8' | 'float32';
  numActions: number;
  double: boolean;
  dueling: boolean;
  maxGradNorm: number;
}

/**
 * DQN's update as one graph: Huber(Q(s, a), r + discount (1 - done) Q_target(s', a*)) with a* the
 * target's (or, Double DQN, the online net's) argmax; returns loss, gradNorm, meanQ.
 */
export class CompiledDqnStep {
  private readonly step: TrainStep;
  private readonly inputs: { obs: Out; nextObs: Out; actions: Out; rewards: Out; dones: Out; discounts: Out };

  constructor(
    rt: CompiledRuntime,
    private readonly o: DqnStepOptions,
  ) {
    const g = rt.g;
    const x = obsInput(g, o.obsShape, o.obsDtype);
    const x2 = obsInput(g, o.obsShape, o.obsDtype);
    const vec = () => g.placeholder(DT.float, [-1]);
    this.inputs = {
      obs: x.feed,
      nextObs: x2.feed,
      actions: g.placeholder(DT.int32, [-1]),
      rewards: vec(),
      dones: vec(),
      discounts: vec(),
    };
    const qOf = (outs: Out[]): Out => {
      if (!o.dueling) return outs[0];
      const [adv, value] = outs;
      return g.add(value, g.sub(adv, g.reduce('Mean', adv, [1], true)));
    };
    const qNextTarget = qOf(forwardOf(rt, o.target, x2.x));
    const nextAction = g.argMax1(o.double ? qOf(forwardOf(rt, o.online, x2.x)) : qNextTarget);
    const qNext = g.reduce('Sum', g.mul(qNextTarget, g.oneHot(nextAction, o.numActions)), [1]);
    const notDone = g.sub(g.constF(1), this.inputs.dones);
    const y = g.stopGradient(g.add(this.inputs.rewards, g.mul(g.mul(this.inputs.discounts, notDone), qNext)));
    const q = g.reduce(
      'Sum',
      g.mul(qOf(forwardOf(rt, o.online, x.x)), g.oneHot(this.inputs.actions, o.numActions)),
      [1],
    );
    // Huber with delta 1, as tf.losses.huberLoss: 0.5 min(|d|, 1)^2 + (|d| - min(|d|, 1)), mean.
    const absErr = g.abs(g.sub(q, y));
    const quadratic = g.minimum(absErr, g.constF(1));
    const losses = g.add(g.mul(g.constF(0.5), g.square(quadratic)), g.sub(absErr, quadratic));
    const loss = g.reduce('Mean', losses, [0]);
    this.step = new TrainStep(rt, o.online, o.optimizer, loss, { meanQ: g.reduce('Mean', q, [0]) }, o.maxGradNorm);
  }

  run(b: DqnBatch): Record<string, number> {
    const n = b.actions.length;
    const i = this.inputs;
    return this.step.run([
      [i.obs, obsSpec(b.obs, n, this.o.obsShape)],
      [i.nextObs, obsSpec(b.nextObs, n, this.o.obsShape)],
      [i.actions, [DT.int32, [n], b.actions]],
      [i.rewards, [DT.float, [n], b.rewards]],
      [i.dones, [DT.float, [n], b.dones]],
      [i.discounts, [DT.float, [n], b.discounts]],
    ]);
  }
}

export function compileDqnStep(owner: object, o: DqnStepOptions): CompiledDqnStep | null {
  const rt = runtimeFor(owner);
  return rt ? tryCompile(() => new CompiledDqnStep(rt, o)) : null;
}

export interface A2cStepOptions {
  net: CompilableNet;
  optimizer: SlotOptimizer;
  obsShape: readonly number[];
  obsDtype: 'uint8' | 'float32';
  numActions: number;
  entCoef: number;
  vfCoef: number;
  maxGradNorm: number;
}

/**
 * A2C's update as one graph: -mean(adv log pi(a|s)) + vfCoef mean((ret - V(s))^2) - entCoef H;
 * returns loss, gradNorm, policyLoss, valueLoss, entropy.
 */
export class CompiledA2cStep {
  private readonly step: TrainStep;
  private readonly inputs: { obs: Out; actions: Out; advantages: Out; returns: Out };

  constructor(
    rt: CompiledRuntime,
    private readonly o: A2cStepOptions,
  ) {
    const g = rt.g;
    const x = obsInput(g, o.obsShape, o.obsDtype);
    this.inputs = {
      obs: x.feed,
      actions: g.placeholder(DT.int32, [-1]),
      advantages: g.placeholder(DT.float, [-1]),
      returns: g.placeholder(DT.float, [-1]),
    };
    const [logits, value] = forwardOf(rt, o.net, x.x);
    const logp = g.logSoftmax(logits);
    const logpA = g.reduce('Sum', g.mul(logp, g.oneHot(this.inputs.actions, o.numActions)), [1]);
    const entropy = g.reduce('Mean', g.neg(g.reduce('Sum', g.mul(g.exp(logp), logp), [1])), [0]);
    const policyLoss = g.neg(g.reduce('Mean', g.mul(this.inputs.advantages, logpA), [0]));
    const valueLoss = g.reduce('Mean', g.square(g.sub(this.inputs.returns, g.reshape(value, [-1]))), [0]);
    const loss = g.add(g.add(policyLoss, g.mul(valueLoss, g.constF(o.vfCoef))), g.mul(entropy, g.constF(-o.entCoef)));
    this.step = new TrainStep(rt, o.net, o.optimizer, loss, { policyLoss, valueLoss, entropy }, o.maxGradNorm);
  }

  run(obs: Obs, actions: Int32Array, advantages: Float32Array, returns: Float32Array): Record<string, number> {
    const n = actions.length;
    const i = this.inputs;
    return this.step.run([
      [i.obs, obsSpec(obs, n, this.o.obsShape)],
      [i.actions, [DT.int32, [n], actions]],
      [i.advantages, [DT.float, [n], advantages]],
      [i.returns, [DT.float, [n], returns]],
    ]);
  }
}

export function compileA2cStep(owner: object, o: A2cStepOptions): CompiledA2cStep | null {
  const rt = runtimeFor(owner);
  return rt ? tryCompile(() => new CompiledA2cStep(rt, o)) : null;
}
