// PyTorch's default initialisation of nn.Linear and nn.Conv2d, which Stable-Baselines3's DQN keeps
// (only its actor-critic policies re-initialise orthogonally): kaiming_uniform_(a=sqrt(5)) for the
// weight, i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and the same range for the bias. fanIn is the
// input size of a dense kernel and kh * kw * inChannels of a convolution kernel (tfjs keeps the
// output dimension last, so it is the product of every dimension but the last). Seeded.
import { tf } from '../tf.js';
import { Rng } from '../util/rng.js';

/** Re-initialises kernels and biases of `layers` as PyTorch does by default; layer i uses seed + i. */
export function torchDefaultInit(layers: tf.layers.Layer[], seed: number): void {
  layers.forEach((layer, index) => {
    const weights = layer.getWeights();
    const kernel = weights.find((w) => w.rank > 1);
    if (!kernel) return;
    const fanIn = kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const rng = new Rng(seed + index * 7919);
    const fresh = weights.map((w) => {
      const values = new Float32Array(w.size);
      for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-bound, bound);
      return tf.tensor(values, w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  });
}
