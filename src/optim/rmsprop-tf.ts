// RMSprop in TensorFlow 1.x's form, as Stable-Baselines3's RMSpropTFLike uses for A2C on Atari:
// epsilon inside the square root and the mean-square slots initialised to ONES (tfjs's own
// RMSPropOptimizer starts them at zero, which makes the first updates ~1/sqrt(1-decay) = 10x
// larger and changes early training):
//   ms = decay ms + (1 - decay) g^2;  p -= lr g / sqrt(ms + eps)
// On the native backend TensorFlow's fused ResourceApplyRMSProp (momentum 0) does each step.
import type { NativeOps } from '../native/tf-native.js';
import { tf } from '../tf.js';
import { SlotOptimizer } from './slot-optimizer.js';

export class RMSpropTF extends SlotOptimizer {
  static className = 'RMSpropTF';
  protected readonly slotNames = ['rms'] as const;
  /** ResourceApplyRMSProp's momentum buffer: at momentum 0 it only holds the last step. */
  protected override readonly scratchSlots = 1;
  private s: { lr: tf.Scalar; rho: tf.Scalar; momentum: tf.Scalar; eps: tf.Scalar } | null = null;

  constructor(
    public learningRate: number,
    public readonly decay = 0.99,
    public readonly epsilon = 1e-5,
  ) {
    super();
  }

  protected initSlot(_k: number, variable: tf.Tensor): tf.Tensor {
    return tf.onesLike(variable);
  }

  protected beginUpdate(): void {
    this.s = {
      lr: tf.scalar(this.learningRate),
      rho: tf.scalar(this.decay),
      momentum: tf.scalar(0),
      eps: tf.scalar(this.epsilon),
    };
  }

  protected stepNative(ops: NativeOps, e: { param: tf.Tensor; slots: tf.Tensor[] }, grad: tf.Tensor): void {
    if (!this.s) throw new Error('RMSpropTF: step outside applyGradients');
    ops.applyRMSProp({ param: e.param, ms: e.slots[0], mom: e.slots[1] }, this.s, grad);
  }

  protected stepOps(param: tf.Tensor, [ms]: tf.Tensor[], grad: tf.Tensor): { param: tf.Tensor; slots: tf.Tensor[] } {
    const ms2 = tf.add(tf.mul(ms, this.decay), tf.mul(tf.square(grad), 1 - this.decay));
    const step = tf.div(tf.mul(grad, this.learningRate), tf.sqrt(tf.add(ms2, this.epsilon)));
    return { param: tf.sub(param, step), slots: [ms2] };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, decay: this.decay, epsilon: this.epsilon };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, config.decay, config.epsilon);
  }
}
tf.serialization.registerClass(RMSpropTF);
