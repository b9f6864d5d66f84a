// RMSprop in TensorFlow 1.x's form, as Stable-Baselines3's RMSpropTFLike uses for A2C on Atari:
// epsilon inside the square root and the mean-square slots initialised to ONES (tfjs's own
// RMSPropOptimizer starts them at zero, which makes the first updates ~1/sqrt(1-decay) = 10x
// larger and changes early training):
//   ms = decay ms + (1 - decay) g^2;  p -= lr g / sqrt(ms + eps)
// On the native backend TensorFlow's fused ResourceApplyRMSProp (momentum 0) does each step.
import type { NativeOps } from '../native/tf-native.js';
import { eagerOps } from '../ops/eager-ops.js';
import type { Ops } from '../ops/ops.js';
import { tf } from '../tf.js';
import { SlotOptimizer } from './slot-optimizer.js';

/**
 * One variable's step in the formula above, over Ops (what the tfjs-ops step runs; the native
 * paths, eager and compiled, run TensorFlow's fused ResourceApplyRMSProp instead).
 */
export function rmspropTfStep<T>(
  ops: Ops<T>,
  { param, ms, grad }: { param: T; ms: T; grad: T },
  c: { decay: T; oneMinusDecay: T; epsilon: T; lr: T },
): { param: T; ms: T } {
  const ms2 = ops.add(ops.mul(ms, c.decay), ops.mul(ops.square(grad), c.oneMinusDecay));
  const step = ops.div(ops.mul(grad, c.lr), ops.sqrt(ops.add(ms2, c.epsilon)));
  return { param: ops.sub(param, step), ms: ms2 };
}

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
    const o = eagerOps;
    const next = rmspropTfStep(
      o,
      { param, ms, grad },
      {
        decay: o.scalar(this.decay),
        oneMinusDecay: o.scalar(1 - this.decay),
        epsilon: o.scalar(this.epsilon),
        lr: o.scalar(this.learningRate),
      },
    );
    return { param: next.param, slots: [next.ms] };
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
