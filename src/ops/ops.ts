// The tensor operations a loss, its gradient clipping and an optimizer's step are written with,
// so that each is written once and runs on both execution paths: eagerly over tfjs tensors
// (eager-ops.ts: the pure-JS backend, COORDRL_NO_COMPILED=1, debugging) and as nodes of a compiled
// TensorFlow graph (src/compiled/graph-ops.ts over src/compiled/graph.ts). A formula over `Ops<T>` builds the
// same computation in both: same kernels, same operand order, so both give the same numbers.
//
// Why no overloads with plain numbers (`mul(x, 0.5)`): a graph constant is an operation, and the
// place where it is created is part of the graph's op order; `ops.scalar(v)` makes that place
// explicit in the formula, where it is evaluated left to right as written.

/** Operations on float32 tensors (int32 where said) of the backend T. */
export interface Ops<T> {
  /** A float32 scalar constant. */
  scalar(value: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  minimum(a: T, b: T): T;
  maximum(a: T, b: T): T;
  neg(x: T): T;
  abs(x: T): T;
  exp(x: T): T;
  sqrt(x: T): T;
  square(x: T): T;
  relu(x: T): T;
  /** min(max(x, lo), hi) elementwise (PPO's ratio clipping). */
  clip(x: T, lo: number, hi: number): T;
  /** log softmax over the last axis. */
  logSoftmax(x: T): T;
  /** float32 one-hot rows (depth columns) of int32 indices. */
  oneHot(indices: T, depth: number): T;
  /** Sum over one axis (the axis is dropped). */
  sum(x: T, axis: number): T;
  /** Mean over one axis (kept with size 1 when keepDims). */
  mean(x: T, axis: number, keepDims?: boolean): T;
  reshape(x: T, shape: number[]): T;
  /** int32 index of the largest value along axis 1 of a matrix. */
  argMax1(x: T): T;
  /** x in the forward pass; no gradient flows through it. */
  stopGradient(x: T): T;
  /** Elementwise sum of several same-shaped tensors (one kernel). */
  addN(xs: T[]): T;
  /** The scalar sum of x's squared elements. */
  sumOfSquares(x: T): T;
}

/** What a loss function returns: the scalar to minimise and scalars to report with it. */
export interface LossOutputs<T> {
  loss: T;
  stats: Record<string, T>;
}
