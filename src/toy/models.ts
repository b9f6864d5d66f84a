// Models for the supervised coordinate tasks, after Liu et al. (2018), Section 4.
//
// classification: (x, y) in [-1, 1] -> logits over the 64x64 = 4,096 pixels (softmax in the loss).
//   coordconv: (x, y) tiled to a 64x64x2 map (reshape + nearest upsampling), then 1x1 CoordConv
//              and 1x1 conv layers, one logit per pixel. ~7.5k parameters.
//   conv:      the "deconvolution" baseline: (x, y) as a 1x1x2 image, then six stride-2 transposed
//              convolutions 1 -> 2 -> 4 -> ... -> 64, one logit per pixel. ~90k parameters.
// regression: a 64x64 one-hot image -> (x, y) in [-1, 1].
//   coordconv: 1x1 CoordConv and 1x1 conv layers down to 2 channels, global max pooling, and a
//              2 -> 2 dense readout. ~1k parameters.
//   conv:      3x3 stride-2 convolutions 64 -> 4, flatten, dense 64 relu, dense 2. ~90k parameters.
import { CoordConv2D } from '../layers/coordconv.js';
import { tf } from '../tf.js';
import { CANVAS } from './data.js';

export type ToyTask = 'classification' | 'regression';
export type ToyArch = 'coordconv' | 'conv';
export const TOY_TASKS: readonly ToyTask[] = ['classification', 'regression'];
export const TOY_ARCHS: readonly ToyArch[] = ['coordconv', 'conv'];

/** Seeded glorot-uniform kernels, a different seed per layer, so runs are reproducible. */
function seededInit(seed: number) {
  let k = 0;
  return () => tf.initializers.glorotUniform({ seed: seed * 1000 + k++ });
}

export function buildToyModel(task: ToyTask, arch: ToyArch, seed = 0): tf.LayersModel {
  const init = seededInit(seed);
  const name = `toy_${task}_${arch}`;
  if (task === 'classification') {
    const input = tf.input({ shape: [2], name: 'xy' });
    let x = tf.layers.reshape({ targetShape: [1, 1, 2] }).apply(input) as tf.SymbolicTensor;
    if (arch === 'coordconv') {
      x = tf.layers.upSampling2d({ size: [CANVAS, CANVAS] }).apply(x) as tf.SymbolicTensor;
      x = new CoordConv2D({ filters: 32, kernelSize: 1, activation: 'relu', kernelInitializer: init() }).apply(
        x,
      ) as tf.SymbolicTensor;
      for (const filters of [32, 64, 64]) {
        x = tf.layers
          .conv2d({ filters, kernelSize: 1, activation: 'relu', kernelInitializer: init() })
          .apply(x) as tf.SymbolicTensor;
      }
      x = tf.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
    } else {
      // As the paper's deconvolution painter: 3x3 stride-2 transposed convolutions with batch
      // normalization and relu, 1x1 -> 64x64.
      for (const filters of [64, 64, 64, 32, 32]) {
        x = tf.layers
          .conv2dTranspose({ filters, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() })
          .apply(x) as tf.SymbolicTensor;
        x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
        x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
      }
      x = tf.layers
        .conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() })
        .apply(x) as tf.SymbolicTensor;
    }
    const logits = tf.layers.flatten({ name: 'logits' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: logits, name });
  }

  const input = tf.input({ shape: [CANVAS, CANVAS, 1], name: 'onehot' });
  let x: tf.SymbolicTensor = input;
  if (arch === 'coordconv') {
    // Linear layers (no activation), then the maximum over the image: the hot pixel's value
    // a + b.(x, y) wins once a is large enough, and is affine in its coordinates.
    x = new CoordConv2D({ filters: 8, kernelSize: 1, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
    for (const [filters, kernelSize] of [
      [8, 1],
      [8, 1],
      [8, 3],
      [2, 3],
    ]) {
      x = tf.layers
        .conv2d({ filters, kernelSize, padding: 'same', kernelInitializer: init() })
        .apply(x) as tf.SymbolicTensor;
    }
    const out = tf.layers.globalMaxPooling2d({ name: 'xy' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out, name });
  } else {
    for (const filters of [16, 32, 32, 64]) {
      x = tf.layers
        .conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() })
        .apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  }
  const out = tf.layers.dense({ units: 2, kernelInitializer: init(), name: 'xy' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name });
}
