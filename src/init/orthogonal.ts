// Seeded orthogonal initialisation for dense and convolution kernels of any rank (the kernel is
// seen as a (fanIn, fanOut) matrix), deterministic for a seed and fast enough for the Nature
// CNN's 3136x512 layer (modified Gram-Schmidt in Float64, about a second).
import { tf } from '../tf.js';
import { Rng } from '../util/rng.js';

/**
 * Re-initialises every kernel of `layers` with a seeded orthogonal matrix times `gain` and every
 * bias with zeros (tfjs initializers cannot be subclassed from outside the package, and its
 * Orthogonal is 2-D only, slow and unseeded, so weights are set after the model is built).
 * Each layer gets its own stream: seed + index.
 */
export function orthogonalInit(layers: tf.layers.Layer[], gain: number, seed: number): void {
  layers.forEach((layer, index) => {
    const weights = layer.getWeights();
    if (weights.length === 0) return;
    const fresh = weights.map((w) => {
      if (w.rank === 1) return tf.zerosLike(w);
      const shape = w.shape;
      const fanOut = shape[shape.length - 1];
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      return tf.tensor(orthogonalMatrix(fanIn, fanOut, gain, seed + index * 7919), shape);
    });
    layer.setWeights(fresh);
    // getWeights() returns the live variables: dispose only the fresh values.
    tf.dispose(fresh);
  });
}

/** Row-major (rows x cols) matrix with orthonormal rows or columns (whichever are fewer), times gain. */
export function orthogonalMatrix(rows: number, cols: number, gain: number, seed: number): Float32Array {
  // Orthonormalise k = min(rows, cols) vectors of length m = max(rows, cols).
  const k = Math.min(rows, cols);
  const m = Math.max(rows, cols);
  const rng = new Rng(seed);
  const v = new Float64Array(k * m);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  for (let i = 0; i < k; i++) {
    const vi = v.subarray(i * m, (i + 1) * m);
    // Twice-repeated modified Gram-Schmidt keeps orthogonality to float precision.
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const vj = v.subarray(j * m, (j + 1) * m);
        let dot = 0;
        for (let t = 0; t < m; t++) dot += vi[t] * vj[t];
        for (let t = 0; t < m; t++) vi[t] -= dot * vj[t];
      }
    }
    let norm = 0;
    for (let t = 0; t < m; t++) norm += vi[t] * vi[t];
    norm = Math.sqrt(norm);
    for (let t = 0; t < m; t++) vi[t] /= norm;
  }
  const out = new Float32Array(rows * cols);
  // Vectors are columns when rows >= cols, rows otherwise.
  for (let i = 0; i < k; i++) {
    for (let t = 0; t < m; t++) {
      const value = gain * v[i * m + t];
      if (rows >= cols) out[t * cols + i] = value;
      else out[i * cols + t] = value;
    }
  }
  return out;
}
