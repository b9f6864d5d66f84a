// Compiled versions of the agents' network calls: inference, and an agent's update as one graph
// run (forward, loss, gradients, global-norm clipping, optimizer apply, reading the new weights
// back). The loss is not written here: the agent passes its own loss function, written once over
// src/ops/ops.ts, which its eager update runs over tfjs tensors and this module over graph nodes
// (test/compiled.test.ts checks that both give the same numbers). An agent uses a compiled update
// when `compileUpdate` returns one and its eager code otherwise (pure-JS backend, addon not built,
// COORDRL_NO_COMPILED=1, or a layer this module cannot rebuild).

import { clipByGlobalNorm } from '../ops/grads.js';
import type { LossOutputs, Ops } from '../ops/ops.js';
import type { SlotOptimizer } from '../optim/slot-optimizer.js';
import type { tf } from '../tf.js';
import { note } from '../util/output.js';
import { type Attr, DT, type Graph, type Out } from './graph.js';
import { graphOps } from './graph-ops.js';
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
    { loss, stats }: LossOutputs<Out>,
    maxGradNorm: number,
  ) {
    const g = rt.g;
    this.vars = net.trainableVariables();
    const params = this.vars.map((v) => rt.mirror(v));
    const grads = g.gradients(
      [loss],
      params.map((p) => p.read),
    );
    // The eager updates' clipping, on graph nodes (maxGradNorm 0: no clipping).
    const { clipped, norm } = clipByGlobalNorm(graphOps(g), grads, maxGradNorm);
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

/** One part of an update's batch: observations (frames of obsShape), or one int32/float32 per row. */
export type InputKind = 'obs' | 'int32' | 'float32';
export type UpdateInputs = Record<string, InputKind>;
/** The arrays of one batch, by the kinds of its parts. */
export type BatchOf<I extends UpdateInputs> = {
  [K in keyof I]: I[K] extends 'obs' ? Obs : I[K] extends 'int32' ? Int32Array : Float32Array;
};
/** A network's forward pass inside the update's graph: its outputs (float32) for the input x. */
export type GraphForward = (net: CompilableNet, x: Out) => Out[];

/** What an agent hands over to compile its update. */
export interface UpdateSpec<I extends UpdateInputs> {
  /** The network trained (its variables get the clipped gradients). */
  net: CompilableNet;
  optimizer: SlotOptimizer;
  /** Global gradient norm clipping (0: none). */
  maxGradNorm: number;
  obsShape: readonly number[];
  obsDtype: 'uint8' | 'float32';
  /** The batch's parts, in the order their placeholders are added to the graph. */
  inputs: I;
  /**
   * The agent's loss on graph nodes: `inputs` holds one node per batch part (observations already
   * float32); `forward` runs a network on observations.
   */
  loss(ops: Ops<Out>, inputs: { [K in keyof I]: Out }, forward: GraphForward): LossOutputs<Out>;
}

/** An agent's update as one graph: run(batch) returns loss, gradNorm and the loss's stats. */
export class CompiledUpdate<I extends UpdateInputs> {
  private readonly step: TrainStep;
  /** The placeholders, in the order of spec.inputs. */
  private readonly feeds: [keyof I & string, InputKind, Out][] = [];

  constructor(
    rt: CompiledRuntime,
    private readonly spec: UpdateSpec<I>,
  ) {
    const g = rt.g;
    const nodes: Record<string, Out> = {};
    for (const [name, kind] of Object.entries(spec.inputs) as [keyof I & string, InputKind][]) {
      if (kind === 'obs') {
        const { feed, x } = obsInput(g, spec.obsShape, spec.obsDtype);
        this.feeds.push([name, kind, feed]);
        nodes[name] = x;
      } else {
        const feed = g.placeholder(kind === 'int32' ? DT.int32 : DT.float, [-1]);
        this.feeds.push([name, kind, feed]);
        nodes[name] = feed;
      }
    }
    const forward: GraphForward = (net, x) => forwardOf(rt, net, x);
    const lossOutputs = spec.loss(graphOps(g), nodes as { [K in keyof I]: Out }, forward);
    this.step = new TrainStep(rt, spec.net, spec.optimizer, lossOutputs, spec.maxGradNorm);
  }

  /** One update on a batch of `rows` rows. */
  run(batch: BatchOf<I>, rows: number): Record<string, number> {
    return this.step.run(
      this.feeds.map(([name, kind, feed]): [Out, [number, number[], Obs | Int32Array]] => {
        const data = batch[name];
        if (kind === 'obs') return [feed, obsSpec(data as Obs, rows, this.spec.obsShape)];
        return [feed, [kind === 'int32' ? DT.int32 : DT.float, [rows], data]];
      }),
    );
  }
}

/** The update compiled, or null where it runs eagerly (see tryCompile). */
export function compileUpdate<I extends UpdateInputs>(owner: object, spec: UpdateSpec<I>): CompiledUpdate<I> | null {
  const rt = runtimeFor(owner);
  return rt ? tryCompile(() => new CompiledUpdate(rt, spec)) : null;
}
