// CoordConv (Liu et al. 2018): give a convolution its own input coordinates as extra channels.
//
// - `AddCoords` appends x (column) and y (row) channels scaled exactly to [-1, 1]
//   (`2*i/(dim-1) - 1`, each axis with its own length, so non-square inputs are right), and
//   optionally r = sqrt(x^2 + y^2), the distance from the centre of the image.
// - `CoordConv2D` is ONE leaf layer: a subclass of tfjs's own Conv2D whose kernel is built for
//   the augmented channel count and whose call adds the coordinates before convolving. It takes
//   every `tf.layers.conv2d` option plus `withR`, owns its kernel/bias (saved as
//   `<name>/kernel`, `<name>/bias`), and serializes through Conv2D's own getConfig. No layer is
//   nested inside another (tfjs does not track nested layers: issues 8253, 8569).
//
// Both layers are registered with tf.serialization when this module is imported, so import it
// (or anything that re-exports it) before `tf.loadLayersModel`.
import { tf } from '../tf.js';

export type DataFormat = 'channelsFirst' | 'channelsLast';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Shape = Parameters<InstanceType<typeof tf.layers.Layer>['computeOutputShape']>[0];
type Kwargs = Parameters<InstanceType<typeof tf.layers.Layer>['call']>[1];
type SingleShape = (number | null)[];

/** All `tf.layers.conv2d` options (filters, kernelSize, strides, padding, dataFormat, dilationRate, ...). */
export type Conv2DLayerArgs = Parameters<typeof tf.layers.conv2d>[0];
type Conv2DLayer = ReturnType<typeof tf.layers.conv2d>;

export interface AddCoordsArgs extends LayerArgs {
  /** Also append r = sqrt(x^2 + y^2) (distance from the image centre, in the [-1, 1] frame). */
  withR?: boolean;
  /** 'channelsLast' (NHWC, default) or 'channelsFirst' (NCHW). */
  dataFormat?: DataFormat;
}

export interface CoordConv2DArgs extends Conv2DLayerArgs {
  withR?: boolean;
}

/** Number of channels AddCoords appends: 2, or 3 with r. */
export function coordChannelCount(withR = false): number {
  return withR ? 3 : 2;
}

/** `2*i/(n-1) - 1`: exactly -1 at the first index and 1 at the last; 0 when n == 1. */
export function scaledCoordinate(i: number, n: number): number {
  return n > 1 ? (2 * i) / (n - 1) - 1 : 0;
}

/**
 * The coordinate channels for one image, as a flat Float32Array in the layer's layout:
 * channels-last `[h, w, c]` or channels-first `[c, h, w]`, with channels `[x, y]` or `[x, y, r]`.
 */
export function coordinateValues(
  height: number,
  width: number,
  withR = false,
  dataFormat: DataFormat = 'channelsLast',
): Float32Array {
  const c = coordChannelCount(withR);
  const out = new Float32Array(height * width * c);
  for (let i = 0; i < height; i++) {
    const y = scaledCoordinate(i, height);
    for (let j = 0; j < width; j++) {
      const x = scaledCoordinate(j, width);
      const vals = withR ? [x, y, Math.sqrt(x * x + y * y)] : [x, y];
      for (let k = 0; k < c; k++) {
        const idx = dataFormat === 'channelsLast' ? (i * width + j) * c + k : (k * height + i) * width + j;
        out[idx] = vals[k];
      }
    }
  }
  return out;
}

/**
 * Appends the coordinate channels to a rank-4 tensor. The coordinates are constants: they do not
 * depend on the batch (the same map is broadcast to every example) and get no gradient.
 */
export function addCoords(x: tf.Tensor, withR = false, dataFormat: DataFormat = 'channelsLast'): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`AddCoords expects a rank-4 input, got shape [${x.shape.join(', ')}]`);
  return tf.tidy(() => {
    const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const [b, d1, d2, d3] = input.shape as [number, number, number, number];
    const c = coordChannelCount(withR);
    if (dataFormat === 'channelsLast') {
      const coords = tf.tensor4d(coordinateValues(d1, d2, withR, dataFormat), [1, d1, d2, c]);
      return tf.concat([input, tf.broadcastTo(coords, [b, d1, d2, c])], 3) as tf.Tensor4D;
    }
    const coords = tf.tensor4d(coordinateValues(d2, d3, withR, dataFormat), [1, c, d2, d3]);
    return tf.concat([input, tf.broadcastTo(coords, [b, c, d2, d3])], 1) as tf.Tensor4D;
  });
}

function checkDataFormat(f: unknown): DataFormat {
  if (f === undefined || f === null) return 'channelsLast';
  if (f === 'channelsLast' || f === 'channelsFirst') return f;
  throw new Error(`dataFormat must be 'channelsLast' or 'channelsFirst', got ${JSON.stringify(f)}`);
}

function oneShape(inputShape: Shape): SingleShape {
  const s = inputShape as SingleShape | SingleShape[];
  if (Array.isArray(s[0])) {
    if (s.length !== 1) throw new Error(`expected exactly one input, got ${s.length}`);
    return s[0] as SingleShape;
  }
  return s as SingleShape;
}

function addedChannelsShape(shape: SingleShape, withR: boolean, dataFormat: DataFormat): SingleShape {
  if (shape.length !== 4) throw new Error(`expected a rank-4 input shape, got [${shape.join(', ')}]`);
  const axis = dataFormat === 'channelsLast' ? 3 : 1;
  const out = shape.slice();
  const ch = out[axis];
  out[axis] = ch === null || ch === undefined ? null : ch + coordChannelCount(withR);
  return out;
}

function oneTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new Error(`expected exactly one input tensor, got ${inputs.length}`);
    return inputs[0];
  }
  return inputs;
}

/** Appends x, y (and optionally r) coordinate channels in [-1, 1]. No weights. */
export class AddCoords extends tf.layers.Layer {
  static className = 'AddCoords';
  readonly withR: boolean;
  readonly dataFormat: DataFormat;

  constructor(args: AddCoordsArgs = {}) {
    const { withR, dataFormat, ...base } = args;
    super(base);
    this.withR = withR ?? false;
    this.dataFormat = checkDataFormat(dataFormat);
    this.inputSpec = [{ ndim: 4 }];
  }

  override computeOutputShape(inputShape: Shape): Shape {
    return addedChannelsShape(oneShape(inputShape), this.withR, this.dataFormat) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return addCoords(oneTensor(inputs), this.withR, this.dataFormat);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), withR: this.withR, dataFormat: this.dataFormat };
  }
}

// tfjs's Conv2D class is not exported by name; take it from an instance (an explicit name keeps
// this probe from consuming an auto-generated 'conv2d_N' layer name).
const Conv2DBase = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: '__coordconv_conv2d_probe' })
  .constructor as (new (args: Conv2DLayerArgs) => Conv2DLayer) & Pick<typeof tf.layers.Layer, 'fromConfig'>;

/**
 * A 2-D convolution over the input plus its coordinate channels. Accepts every
 * `tf.layers.conv2d` option and `withR`. Kernel shape: `[kh, kw, inChannels + 2 (+1 with r), filters]`.
 */
export class CoordConv2D extends Conv2DBase {
  static className = 'CoordConv2D';
  readonly withR: boolean;

  constructor(args: CoordConv2DArgs) {
    const { withR, ...convArgs } = args;
    super(convArgs);
    this.withR = withR ?? false;
  }

  private get format(): DataFormat {
    return checkDataFormat(this.dataFormat);
  }

  override build(inputShape: Shape): void {
    const shape = oneShape(inputShape);
    const axis = this.format === 'channelsLast' ? shape.length - 1 : 1;
    const inputDim = shape[axis];
    if (inputDim === null || inputDim === undefined) {
      throw new Error(`${this.name}: the channel dimension of the input must be defined`);
    }
    super.build(addedChannelsShape(shape, this.withR, this.format) as Shape);
    // The caller's input has the original channel count; only the kernel sees the extra ones.
    this.inputSpec = [{ ndim: 4, axes: { [axis]: inputDim } }];
  }

  override computeOutputShape(inputShape: Shape): Shape {
    // Only the spatial dimensions and `filters` matter; the coordinate channels change neither.
    return super.computeOutputShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => super.call(addCoords(oneTensor(inputs), this.withR, this.format), kwargs));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), withR: this.withR };
  }
}

tf.serialization.registerClass(AddCoords);
tf.serialization.registerClass(CoordConv2D);

/** Functional-style factories, like `tf.layers.conv2d`. */
export function addCoordsLayer(args: AddCoordsArgs = {}): AddCoords {
  return new AddCoords(args);
}

export function coordConv2d(args: CoordConv2DArgs): CoordConv2D {
  return new CoordConv2D(args);
}
