// Ops over a compiled graph's outputs: the graph execution of the formulas in src/ops/ops.ts. Each
// method adds exactly the nodes the compiled steps added before the formulas were shared (e.g.
// sum -> Sum over a Const axis, addN -> one AddN node, scalar -> one Const), so the graphs, and the
// numbers they compute, are unchanged.

import type { Ops } from '../ops/ops.js';
import { DT, type Graph, type Out } from './graph.js';

const floatOp = (g: Graph, type: string, inputs: Out[]): Out => g.out(type, inputs, [['T', 'type', DT.float]]);

export function graphOps(g: Graph): Ops<Out> {
  return {
    scalar: (v) => g.constF(v),
    add: g.add,
    sub: g.sub,
    mul: g.mul,
    div: g.div,
    minimum: g.minimum,
    maximum: (a, b) => floatOp(g, 'Maximum', [a, b]),
    neg: g.neg,
    abs: g.abs,
    exp: g.exp,
    sqrt: g.sqrt,
    square: g.square,
    relu: g.relu,
    clip: (x, lo, hi) => g.minimum(floatOp(g, 'Maximum', [x, g.constF(lo)]), g.constF(hi)),
    logSoftmax: g.logSoftmax,
    oneHot: (indices, depth) => g.oneHot(indices, depth),
    sum: (x, axis) => g.reduce('Sum', x, [axis]),
    mean: (x, axis, keepDims = false) => g.reduce('Mean', x, [axis], keepDims),
    reshape: (x, shape) => g.reshape(x, shape),
    argMax1: (x) => g.argMax1(x),
    stopGradient: g.stopGradient,
    addN: (xs) =>
      g.out(
        'AddN',
        [xs],
        [
          ['N', 'int', xs.length],
          ['T', 'type', DT.float],
        ],
      ),
    sumOfSquares: (x) => g.sumOfSquares(x),
  };
}
