import type { tf } from '../tf.js';
import { eagerOps } from './eager-ops.js';
import type { Ops } from './ops.js';

/**
 * Scales all gradients together so their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ does (scale = min(1, maxNorm / (norm + 1e-6))); returns the norm
 * before clipping. `maxNorm` 0 or Infinity: no clipping (the gradients as they are). The one
 * definition for both paths: the eager updates (via clipNamedByGlobalNorm) and the compiled
 * TrainStep (src/compiled/steps.ts).
 */
export function clipByGlobalNorm<T>(ops: Ops<T>, grads: T[], maxNorm: number): { clipped: T[]; norm: T } {
  const norm = ops.sqrt(ops.addN(grads.map((d) => ops.sumOfSquares(d))));
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) return { clipped: grads, norm };
  const scale = ops.minimum(ops.scalar(1), ops.div(ops.scalar(maxNorm), ops.add(norm, ops.scalar(1e-6))));
  return { clipped: grads.map((d) => ops.mul(d, scale)), norm };
}

/** clipByGlobalNorm on the named gradients of tf.variableGrads (eagerly). Call inside tf.tidy. */
export function clipNamedByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { clipped: tf.NamedTensorMap; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const { clipped, norm } = clipByGlobalNorm(
    eagerOps,
    names.map((k) => grads[k]),
    maxNorm,
  );
  const out: tf.NamedTensorMap = {};
  names.forEach((k, i) => {
    out[k] = clipped[i];
  });
  return { clipped: out, norm: norm as tf.Scalar };
}

/** Reads scalar tensors into numbers (one sync for the update's statistics) and disposes them. */
export function readScalars(tensors: Record<string, tf.Tensor>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, t] of Object.entries(tensors)) {
    out[k] = t.dataSync()[0];
    t.dispose();
  }
  return out;
}
