// Ops over tfjs tensors: the eager execution of the formulas in src/ops/ops.ts. Each method is the
// tfjs call the agents made before the formulas were shared (tf.sum(x, axis), tf.mean, tf.addN,
// ...), so eager runs give the numbers they gave then. Call inside tf.tidy (and, for a loss, inside
// tf.variableGrads).
import { nativeOps } from '../native/tf-native.js';
import { tf } from '../tf.js';
import type { Ops } from './ops.js';

type T = tf.Tensor;

/** tf.customGrad that lets x through and sends no gradient back (tfjs has no stopGradient op). */
const stopGradient = tf.customGrad(((x: T) => ({
  value: x.clone(),
  gradFunc: (dy: T) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: T) => T;

export const eagerOps: Ops<T> = {
  scalar: (v) => tf.scalar(v),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  minimum: (a, b) => tf.minimum(a, b),
  maximum: (a, b) => tf.maximum(a, b),
  neg: (x) => tf.neg(x),
  abs: (x) => tf.abs(x),
  exp: (x) => tf.exp(x),
  sqrt: (x) => tf.sqrt(x),
  square: (x) => tf.square(x),
  relu: (x) => tf.relu(x),
  // The graph's form (Maximum then Minimum; TensorFlow's C API has no ClipByValue gradient).
  clip: (x, lo, hi) => tf.minimum(tf.maximum(x, tf.scalar(lo)), tf.scalar(hi)),
  logSoftmax: (x) => tf.logSoftmax(x),
  oneHot: (indices, depth) => tf.oneHot(indices as tf.Tensor1D, depth),
  sum: (x, axis) => tf.sum(x, axis),
  mean: (x, axis, keepDims = false) => tf.mean(x, axis, keepDims),
  reshape: (x, shape) => tf.reshape(x, shape),
  argMax1: (x) => tf.argMax(x, 1),
  stopGradient: (x) => stopGradient(x),
  addN: (xs) => tf.addN(xs),
  // The native backend's fused L2Loss (x2), as the eager gradient clipping has always used.
  sumOfSquares: (x) => {
    const native = nativeOps();
    return native ? native.sumOfSquares(x) : tf.sum(tf.square(x));
  },
};
