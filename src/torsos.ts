// Feature extractors ("torsos") shared by the agents, built with the functional API so that
// agents put their own heads on top and compose everything with `tf.model()`.
//
// - conv:      a convolutional network of one of two architectures (`arch`):
//              nature:  the Nature-DQN CNN (Mnih et al. 2015): 32@8x8/4, 64@4x4/2, 64@3x3/1 (relu),
//                       flatten, dense 512 relu. Input: raw pixel values 0..255 (float or int), scaled
//                       by 1/255 inside the model (tfjs's serializable Rescaling layer).
//              minatar: the MinAtar paper's network (Young & Tian 2019) for 10x10xC grids of 0/1:
//                       16@3x3/1 (relu), flatten, dense 128 relu; no input scaling.
// - coordconv: the same network with CoordConv in place of the first convolution (the paper's
//              placement for its A2C Atari runs), or of every convolution (`coordconvAt: 'all'`).
// - mlp:       dense layers (default 64, 64, tanh) for vector observations such as CartPole.
import { CoordConv2D } from './layers/coordconv.js';
import { tf } from './tf.js';

export type TorsoKind = 'conv' | 'coordconv' | 'mlp';
export const TORSO_KINDS: readonly TorsoKind[] = ['conv', 'coordconv', 'mlp'];
/** The convolutional architectures of conv/coordconv. */
export type ConvArch = 'nature' | 'minatar';
export const CONV_ARCHS: readonly ConvArch[] = ['nature', 'minatar'];

/** An initializer as tfjs layers accept it: an instance (e.g. `tf.initializers.orthogonal({gain})`) or a name. */
export type InitializerLike = NonNullable<Parameters<typeof tf.layers.dense>[0]['kernelInitializer']>;

export interface TorsoOptions {
  kind: TorsoKind;
  /** conv/coordconv: the architecture (default 'nature'). */
  arch?: ConvArch;
  /** coordconv only: replace the first convolution (default, as in the paper) or all three. */
  coordconvAt?: 'first' | 'all';
  /** coordconv only: add the radius channel too. Default false. */
  withR?: boolean;
  /** mlp: hidden layer sizes (default [64, 64]); conv/coordconv: the dense layer(s) after flatten (default [512], minatar [128]). */
  hidden?: number[];
  /** mlp activation (default 'tanh'); conv layers always use relu. */
  activation?: 'tanh' | 'relu';
  /** conv/coordconv: divide the input by 255 inside the model (default true for nature, false for minatar's 0/1 grids). */
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

/** The MinAtar paper's single convolution (valid padding: 10x10 -> 8x8x16). */
export const MINATAR_CONVS: readonly { filters: number; kernelSize: number; strides: number }[] = [
  { filters: 16, kernelSize: 3, strides: 1 },
];

const ARCHS: Record<ConvArch, { convs: typeof NATURE_CONVS; hidden: number[]; scaleInput: boolean; label: string }> = {
  nature: { convs: NATURE_CONVS, hidden: [512], scaleInput: true, label: 'Nature DQN' },
  minatar: { convs: MINATAR_CONVS, hidden: [128], scaleInput: false, label: 'MinAtar' },
};

/** Smallest image side the Nature CNN takes (8x8/4 -> 4x4/2 -> 3x3/1 leaves 1x1 at 36). */
export const NATURE_MIN_SIDE = 36;

/** The architecture for an image shape [h, w, c]: the MinAtar network below the Nature CNN's minimum size. */
export function autoArch(shape: readonly number[]): ConvArch {
  return Math.min(shape[0], shape[1]) < NATURE_MIN_SIDE ? 'minatar' : 'nature';
}

export function validateTorsoOptions(opts: TorsoOptions): void {
  if (!TORSO_KINDS.includes(opts.kind)) {
    throw new Error(`unknown torso kind '${String(opts.kind)}' (expected ${TORSO_KINDS.join(', ')})`);
  }
  if (opts.coordconvAt !== undefined && opts.coordconvAt !== 'first' && opts.coordconvAt !== 'all') {
    throw new Error(`coordconvAt must be 'first' or 'all', got '${String(opts.coordconvAt)}'`);
  }
  if (opts.arch !== undefined && !CONV_ARCHS.includes(opts.arch)) {
    throw new Error(`unknown arch '${String(opts.arch)}' (expected ${CONV_ARCHS.join(', ')})`);
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
  const arch = ARCHS[opts.arch ?? 'nature'];
  const [h, w] = [input.shape[1], input.shape[2]];
  if ((opts.arch ?? 'nature') === 'nature' && h !== null && w !== null && Math.min(h, w) < NATURE_MIN_SIDE) {
    throw new Error(
      `the Nature CNN needs images of at least ${NATURE_MIN_SIDE}x${NATURE_MIN_SIDE}, got ${h}x${w}; use the minatar architecture`,
    );
  }
  let x: tf.SymbolicTensor = input;
  if (opts.scaleInput ?? arch.scaleInput) {
    x = tf.layers.rescaling({ scale: 1 / 255, name: `${namePrefix}_scale` }).apply(x) as tf.SymbolicTensor;
  }
  const at = opts.coordconvAt ?? 'first';
  arch.convs.forEach((c, i) => {
    const useCoord = opts.kind === 'coordconv' && (at === 'all' || i === 0);
    const args = { ...c, activation: 'relu' as const, padding: 'valid' as const, ...common() };
    const layer = useCoord
      ? new CoordConv2D({ ...args, withR: opts.withR ?? false, name: `${namePrefix}_coordconv${i + 1}` })
      : tf.layers.conv2d({ ...args, name: `${namePrefix}_conv${i + 1}` });
    x = layer.apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: `${namePrefix}_flatten` }).apply(x) as tf.SymbolicTensor;
  (opts.hidden ?? arch.hidden).forEach((units, i) => {
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

/** A one-line description, e.g. `coordconv(first, +r) Nature DQN: CC32@8x8/4-64@4x4/2-64@3x3/1 relu -> fc512 relu`. */
export function describeTorso(opts: TorsoOptions): string {
  validateTorsoOptions(opts);
  if (opts.kind === 'mlp') {
    return `mlp: ${(opts.hidden ?? [64, 64]).map((h) => `fc${h}`).join('-')} ${opts.activation ?? 'tanh'}`;
  }
  const at = opts.coordconvAt ?? 'first';
  const arch = ARCHS[opts.arch ?? 'nature'];
  const convs = arch.convs
    .map((c, i) => {
      const coord = opts.kind === 'coordconv' && (at === 'all' || i === 0);
      return `${coord ? 'CC' : ''}${c.filters}@${c.kernelSize}x${c.kernelSize}/${c.strides}`;
    })
    .join('-');
  const head =
    opts.kind === 'coordconv' ? `coordconv(${at}${opts.withR ? ', +r' : ''}) ${arch.label}` : `conv (${arch.label})`;
  const fc = (opts.hidden ?? arch.hidden).map((h) => `fc${h}`).join('-');
  return `${head}: ${convs} relu -> ${fc} relu${(opts.scaleInput ?? arch.scaleInput) ? ', input /255' : ''}`;
}
