// The two implementations of src/ops/ops.ts compute the same thing: every op on tfjs tensors
// (eager-ops.ts) and as graph nodes (graph-ops.ts) gives the same numbers on the same inputs;
// stopGradient stops gradients in both; the one global-norm clipping (src/ops/grads.ts) scales to
// the limit and leaves gradients under it (or with the limit 0) alone, on both.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { DT, Graph, loadTfGraph, type Out } from '../src/compiled/graph.js';
import { graphOps } from '../src/compiled/graph-ops.js';
import { eagerOps } from '../src/ops/eager-ops.js';
import { clipByGlobalNorm } from '../src/ops/grads.js';
import type { Ops } from '../src/ops/ops.js';
import { tf } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

const rng = new Rng(2);
const rand = (k: number) => Float32Array.from({ length: k }, () => rng.next() * 4 - 2);
const a = { data: rand(12), shape: [3, 4] };
const b = { data: rand(12), shape: [3, 4] };
const pos = { data: Float32Array.from(rand(12), (v) => Math.abs(v) + 0.1), shape: [3, 4] };
const idx = { data: Int32Array.from([2, 0, 3]), shape: [3] };
type Input = { data: Float32Array | Int32Array; shape: number[] };

/** f on eager tensors and on graph nodes fed the same inputs: both results. */
function both(inputs: Input[], f: <T>(ops: Ops<T>, xs: T[]) => T): [number[], number[]] {
  const eager = tf.tidy(() =>
    Array.from(
      f(
        eagerOps,
        inputs.map((x) => tf.tensor(x.data, x.shape, x.data instanceof Int32Array ? 'int32' : 'float32')),
      ).dataSync(),
    ),
  );
  const addon = loadTfGraph();
  if (!addon) throw new Error('the tfgraph addon is not built');
  const g = new Graph(addon);
  const feeds = inputs.map((x) => g.placeholder(x.data instanceof Int32Array ? DT.int32 : DT.float, x.shape));
  const out = f(graphOps(g), feeds);
  const [[graph]] = g.run(
    inputs.map((x, i): [Out, [number, number[], Float32Array | Int32Array]] => [
      feeds[i],
      [x.data instanceof Int32Array ? DT.int32 : DT.float, x.shape, x.data],
    ]),
    [out],
  );
  return [eager, Array.from(graph)];
}

describe('eager and graph Ops', () => {
  const cases: [string, Input[], <T>(ops: Ops<T>, xs: T[]) => T][] = [
    ['scalar', [a], (o, [x]) => o.add(x, o.scalar(0.25))],
    ['add', [a, b], (o, [x, y]) => o.add(x, y)],
    ['sub', [a, b], (o, [x, y]) => o.sub(x, y)],
    ['mul', [a, b], (o, [x, y]) => o.mul(x, y)],
    ['div', [a, pos], (o, [x, y]) => o.div(x, y)],
    ['minimum', [a, b], (o, [x, y]) => o.minimum(x, y)],
    ['maximum', [a, b], (o, [x, y]) => o.maximum(x, y)],
    ['neg', [a], (o, [x]) => o.neg(x)],
    ['abs', [a], (o, [x]) => o.abs(x)],
    ['exp', [a], (o, [x]) => o.exp(x)],
    ['sqrt', [pos], (o, [x]) => o.sqrt(x)],
    ['square', [a], (o, [x]) => o.square(x)],
    ['relu', [a], (o, [x]) => o.relu(x)],
    ['clip', [a], (o, [x]) => o.clip(x, -0.5, 0.8)],
    ['logSoftmax', [a], (o, [x]) => o.logSoftmax(x)],
    ['oneHot', [idx], (o, [i]) => o.oneHot(i, 4)],
    ['sum over axis 1', [a], (o, [x]) => o.sum(x, 1)],
    ['sum over axis 0', [a], (o, [x]) => o.sum(x, 0)],
    ['mean over axis 0', [a], (o, [x]) => o.mean(x, 0)],
    ['mean over axis 1, kept', [a, b], (o, [x, y]) => o.sub(y, o.mean(x, 1, true))],
    ['reshape', [a], (o, [x]) => o.reshape(x, [-1])],
    ['argMax1', [a], (o, [x]) => o.argMax1(x)],
    ['stopGradient', [a], (o, [x]) => o.stopGradient(x)],
    ['addN', [a, b, pos], (o, xs) => o.addN(xs)],
    ['sumOfSquares', [a], (o, [x]) => o.sumOfSquares(x)],
  ];
  it.each(cases)('%s', (name, inputs, f) => {
    const [eager, graph] = both(inputs, f);
    expect(graph.length, name).toBe(eager.length);
    graph.forEach((v, i) => {
      expect(v, `${name}[${i}]`).toBeCloseTo(eager[i], 5);
    });
  });

  it('clip and mean keepDims have the shapes and values of their definitions', () => {
    const [clipped] = both([a], (o, [x]) => o.clip(x, -0.5, 0.8));
    clipped.forEach((v, i) => {
      expect(v).toBeCloseTo(Math.min(Math.max(a.data[i], -0.5), 0.8), 6);
    });
    const [centred] = both([a], (o, [x]) => o.sum(o.sub(x, o.mean(x, 1, true)), 1));
    for (const v of centred) expect(v).toBeCloseTo(0, 5);
  });

  it('stopGradient lets no gradient through (eager and graph): d/dx sum(stop(x) * x) = x', () => {
    const x = Float32Array.from([1.5, -2, 0.25]);
    const eager = tf.tidy(() =>
      Array.from(
        tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(eagerOps.stopGradient(t), t)))(tf.tensor1d(x))
          .dataSync(),
      ),
    );
    const addon = loadTfGraph();
    if (!addon) throw new Error('the tfgraph addon is not built');
    const g = new Graph(addon);
    const o = graphOps(g);
    const p = g.placeholder(DT.float, [3]);
    const [dx] = g.gradients([o.sum(o.mul(o.stopGradient(p), p), 0)], [p]);
    const [[graph]] = g.run([[p, [DT.float, [3], x]]], [dx]);
    expect(eager).toEqual(Array.from(x));
    expect(Array.from(graph)).toEqual(Array.from(x));
  });
});

describe('clipByGlobalNorm (one definition for both paths)', () => {
  const g1 = { data: Float32Array.from([3, 0]), shape: [2] };
  const g2 = { data: Float32Array.from([0, 0, 4]), shape: [3] };
  const clipWith =
    (maxNorm: number, part: 'norm' | 0 | 1) =>
    <T>(ops: Ops<T>, xs: T[]): T => {
      const { clipped, norm } = clipByGlobalNorm(ops, xs, maxNorm);
      // (x 1: a graph cannot fetch its own fed placeholder, which unclipped gradients are here.)
      return part === 'norm' ? norm : ops.mul(clipped[part], ops.scalar(1));
    };

  it('returns the global norm and scales every gradient by min(1, max / (norm + 1e-6))', () => {
    for (const [eager, graph] of [both([g1, g2], clipWith(1, 'norm'))]) {
      expect(eager[0]).toBeCloseTo(5, 5);
      expect(graph[0]).toBeCloseTo(5, 5);
    }
    const scale = 1 / (5 + 1e-6);
    for (const [k, grad] of [g1, g2].entries()) {
      const [eager, graph] = both([g1, g2], clipWith(1, k as 0 | 1));
      grad.data.forEach((v, i) => {
        expect(eager[i]).toBeCloseTo(v * scale, 6);
        expect(graph[i]).toBeCloseTo(v * scale, 6);
      });
    }
  });

  it('leaves gradients under the limit, and all gradients with the limit 0 (no clipping), as they are', () => {
    for (const maxNorm of [10, 0]) {
      const [eager, graph] = both([g1, g2], clipWith(maxNorm, 1));
      expect(eager).toEqual(Array.from(g2.data));
      expect(graph).toEqual(Array.from(g2.data));
    }
  });
});
