// Feature extractors ("torsos") shared by the agents, built with the functional API so that
// agents put their own heads on top and compose everything with `tf.model()`.
//
// - conv:      the Nature-DQN CNN (Mnih et al. 2015): 32@8x8/4, 64@4x4/2, 64@3x3/1 (relu), flatten,
//              dense 512 relu. Input: raw pixel values 0..255 (float or int), scaled by 1/255
//              inside the model (tfjs's serializable Rescaling layer).
// - coordconv: the same network with CoordConv in place of the first convolution (the paper's
//              placement for its A2C Atari runs), or of every convolution (`coordconvAt: 'all'`).
// - mlp:       dense layers (default 64, 64, tanh) for vector observations such as CartPole.
import { CoordConv2D } from './layers/coordconv.js';
import { tf } from './tf.js';

export type TorsoKind = 'conv' | 'coordconv' | 'mlp';
export const TORSO_KINDS: readonly TorsoKind[] = ['conv', 'coordconv', 'mlp'];

/** An initializer as tfjs layers accept it: an instance (e.g. `tf.initializers.orthogonal({gain})`) or a name. */
export type InitializerLike = NonNullable<Parameters<typeof tf.layers.dense>[0]['kernelInitializer']>;

export interface TorsoOptions {
  kind: TorsoKind;
  /** coordconv only: replace the first convolution (default, as in the paper) or all three. */
  coordconvAt?: 'first' | 'all';
  /** coordconv only: add the radius channel too. Default false. */
  withR?: boolean;
  /** mlp: hidden layer sizes (default [64, 64]); conv/coordconv: the dense layer(s) after flatten (default [512]). */
  hidden?: number[];
  /** mlp activation (default 'tanh'); conv layers always use relu. */
  activation?: 'tanh' | 'relu';
  /** conv/coordconv: divide the input by 255 inside the model (default true). */
  scaleInput?: boolean;
  /**
   * Kernel initializer for every torso layer, or a factory called once per layer (use a factory
   * with a per-layer seed for reproducible inits). Default: tfjs's glorotUniform.
   */
  kernelInitializer?: InitializerLike | ((layerIndex: number) => InitializerLike);
  /** Bias initializer for every torso layer (default zeros). */
  biasInitializer?: InitializerLike;
}

/** The Nature-DQN convolution stack. */
export const NATURE_CONVS: readonly { filters: number; kernelSize: number; strides: number }[] = [
  { filters: 32, kernelSize: 8, strides: 4 },
  { filters: 64, kernelSize: 4, strides: 2 },
  { filters: 64, kernelSize: 3, strides: 1 },
];

export function validateTorsoOptions(opts: TorsoOptions): void {
  if (!TORSO_KINDS.includes(opts.kind)) {
    throw new Error(`unknown torso kind '${String(opts.kind)}' (expected ${TORSO_KINDS.join(', ')})`);
  }
  if (opts.coordconvAt !== undefined && opts.coordconvAt !== 'first' && opts.coordconvAt !== 'all') {
    throw new Error(`coordconvAt must be 'first' or 'all', got '${String(opts.coordconvAt)}'`);
  }
  for (const h of opts.hidden ?? []) {
    if (!Number.isInteger(h) || h <= 0) throw new Error(`hidden sizes must be positive integers, got ${h}`);
  }
}

/**
 * Applies the torso to a symbolic input and returns the feature tensor (rank 2).
 * Image input: `[batch, height, width, channels]` (channels-last). Vector input: `[batch, n]`.
 * Layers are named `${namePrefix}_conv1`, `${namePrefix}_fc1`, ... (default prefix 'torso').
 */
export function applyTorso(input: tf.SymbolicTensor, opts: TorsoOptions, namePrefix = 'torso'): tf.SymbolicTensor {
  validateTorsoOptions(opts);
  let layerIndex = 0;
  const init = (): InitializerLike | undefined => {
    const k = opts.kernelInitializer;
    const i = layerIndex++;
    return typeof k === 'function' ? k(i) : k;
  };
  const common = () => ({
    kernelInitializer: init(),
    ...(opts.biasInitializer !== undefined ? { biasInitializer: opts.biasInitializer } : {}),
  });

  if (opts.kind === 'mlp') {
    let x: tf.SymbolicTensor = input;
    if (input.shape.length > 2) x = tf.layers.flatten({ name: `${namePrefix}_flatten` }).apply(x) as tf.SymbolicTensor;
    (opts.hidden ?? [64, 64]).forEach((units, i) => {
      x = tf.layers
        .dense({ units, activation: opts.activation ?? 'tanh', name: `${namePrefix}_fc${i + 1}`, ...common() })
        .apply(x) as tf.SymbolicTensor;
    });
    return x;
  }

  if (input.shape.length !== 4) {
    throw new Error(
      `torso '${opts.kind}' needs an image input [batch, h, w, c], got [${input.shape.map(String).join(', ')}]`,
    );
  }
  let x: tf.SymbolicTensor = input;
  if (opts.scaleInput ?? true) {
    x = tf.layers.rescaling({ scale: 1 / 255, name: `${namePrefix}_scale` }).apply(x) as tf.SymbolicTensor;
  }
  const at = opts.coordconvAt ?? 'first';
  NATURE_CONVS.forEach((c, i) => {
    const useCoord = opts.kind === 'coordconv' && (at === 'all' || i === 0);
    const args = { ...c, activation: 'relu' as const, padding: 'valid' as const, ...common() };
    const layer = useCoord
      ? new CoordConv2D({ ...args, withR: opts.withR ?? false, name: `${namePrefix}_coordconv${i + 1}` })
      : tf.layers.conv2d({ ...args, name: `${namePrefix}_conv${i + 1}` });
    x = layer.apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: `${namePrefix}_flatten` }).apply(x) as tf.SymbolicTensor;
  (opts.hidden ?? [512]).forEach((units, i) => {
    x = tf.layers
      .dense({ units, activation: 'relu', name: `${namePrefix}_fc${i + 1}`, ...common() })
      .apply(x) as tf.SymbolicTensor;
  });
  return x;
}

/** A stand-alone model of just the torso (input shape without the batch dimension). */
export function buildTorsoModel(inputShape: number[], opts: TorsoOptions, namePrefix = 'torso'): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: `${namePrefix}_input` });
  return tf.model({ inputs: input, outputs: applyTorso(input, opts, namePrefix), name: `${namePrefix}_model` });
}

/** Number of weights (trainable and not) of a model or layer. */
export function countParams(model: tf.LayersModel | tf.layers.Layer): number {
  return model.countParams();
}

/** A one-line description, e.g. `coordconv(first, +r): 32@8x8/4-64@4x4/2-64@3x3/1 -> fc512`. */
export function describeTorso(opts: TorsoOptions): string {
  validateTorsoOptions(opts);
  if (opts.kind === 'mlp') {
    return `mlp: ${(opts.hidden ?? [64, 64]).map((h) => `fc${h}`).join('-')} ${opts.activation ?? 'tanh'}`;
  }
  const at = opts.coordconvAt ?? 'first';
  const convs = NATURE_CONVS.map((c, i) => {
    const coord = opts.kind === 'coordconv' && (at === 'all' || i === 0);
    return `${coord ? 'CC' : ''}${c.filters}@${c.kernelSize}x${c.kernelSize}/${c.strides}`;
  }).join('-');
  const head = opts.kind === 'coordconv' ? `coordconv(${at}${opts.withR ? ', +r' : ''})` : 'conv (Nature DQN)';
  const fc = (opts.hidden ?? [512]).map((h) => `fc${h}`).join('-');
  return `${head}: ${convs} relu -> ${fc} relu${(opts.scaleInput ?? true) ? ', input /255' : ''}`;
}
