import { nativeOps } from '../native/tf-native.js';
import { tf } from '../tf.js';

/**
 * Scales all gradients together so their global L2 norm is at most `maxNorm` (as
 * torch.nn.utils.clip_grad_norm_ does); returns the norm before clipping. Call inside tf.tidy.
 */
export function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { clipped: tf.NamedTensorMap; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const ops = nativeOps();
  const sumSq = (g: tf.Tensor) => (ops ? ops.sumOfSquares(g) : tf.sum(tf.square(g)));
  const norm = tf.sqrt(tf.addN(names.map((k) => sumSq(grads[k])))) as tf.Scalar;
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  const clipped: tf.NamedTensorMap = {};
  for (const k of names) clipped[k] = tf.mul(grads[k], scale);
  return { clipped, norm };
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
