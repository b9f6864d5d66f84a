// Adam (Kingma & Ba 2015) in the form PyTorch and tfjs use, with epsilon added to sqrt(v_hat):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr m_hat / (sqrt(v_hat) + eps)
// On the native backend one fused TensorFlow kernel does each variable's step (ResourceApplyAdam,
// whose own epsilon sits outside the bias correction; passing eps * sqrt(1 - b2^t) makes it the
// formula above). beta1^t and beta2^t are computed from the step count, so a restored optimizer
// continues exactly (tfjs's Adam keeps them as running float32 products that a restore cannot
// reproduce).
import type { AdamScalars, NativeOps } from '../native/tf-native.js';
import { eagerOps } from '../ops/eager-ops.js';
import type { Ops } from '../ops/ops.js';
import { tf } from '../tf.js';
import { SlotOptimizer } from './slot-optimizer.js';

/**
 * One variable's step in the formula above, over Ops (what the tfjs-ops step runs; the native
 * paths, eager and compiled, run TensorFlow's fused ResourceApplyAdam instead). stepSize is
 * lr / (1 - b1^t), sqrtBias2 is sqrt(1 - b2^t):
 *   lr m_hat / (sqrt(v_hat) + eps) = stepSize m / (sqrt(v) / sqrtBias2 + eps)
 */
export function adamStep<T>(
  ops: Ops<T>,
  { param, m, v, grad }: { param: T; m: T; v: T; grad: T },
  c: { beta1: T; oneMinusBeta1: T; beta2: T; oneMinusBeta2: T; epsilon: T; stepSize: T; sqrtBias2: T },
): { param: T; m: T; v: T } {
  const m2 = ops.add(ops.mul(m, c.beta1), ops.mul(grad, c.oneMinusBeta1));
  const v2 = ops.add(ops.mul(v, c.beta2), ops.mul(ops.square(grad), c.oneMinusBeta2));
  const denom = ops.add(ops.div(ops.sqrt(v2), c.sqrtBias2), c.epsilon);
  return { param: ops.sub(param, ops.div(ops.mul(m2, c.stepSize), denom)), m: m2, v: v2 };
}

interface StepScalars extends AdamScalars {
  /** For the tfjs-ops path: lr / (1 - b1^t) and sqrt(1 - b2^t). */
  stepSize: tf.Scalar;
  sqrtBias2: tf.Scalar;
}

export class FusedAdam extends SlotOptimizer {
  static className = 'FusedAdam';
  protected readonly slotNames = ['m', 'v'] as const;
  private s: StepScalars | null = null;

  constructor(
    public learningRate: number,
    public readonly beta1 = 0.9,
    public readonly beta2 = 0.999,
    public readonly epsilon = 1e-8,
  ) {
    super();
  }

  protected initSlot(_k: number, variable: tf.Tensor): tf.Tensor {
    return tf.zerosLike(variable);
  }

  /** ResourceApplyAdam's scalar inputs for the next step (also fed to the compiled step). */
  nextStepScalars(): { beta1Power: number; beta2Power: number; lr: number; eps: number } {
    const t = this.iterations + 1;
    const bias2 = 1 - this.beta2 ** t;
    return {
      beta1Power: this.beta1 ** t,
      beta2Power: this.beta2 ** t,
      lr: this.learningRate,
      eps: this.epsilon * Math.sqrt(bias2),
    };
  }

  protected beginUpdate(): void {
    const n = this.nextStepScalars();
    const bias1 = 1 - n.beta1Power;
    const bias2 = 1 - n.beta2Power;
    this.s = {
      beta1Power: tf.scalar(n.beta1Power),
      beta2Power: tf.scalar(n.beta2Power),
      lr: tf.scalar(n.lr),
      beta1: tf.scalar(this.beta1),
      beta2: tf.scalar(this.beta2),
      eps: tf.scalar(n.eps),
      stepSize: tf.scalar(this.learningRate / bias1),
      sqrtBias2: tf.scalar(Math.sqrt(bias2)),
    };
  }

  private scalars(): StepScalars {
    if (!this.s) throw new Error('FusedAdam: step outside applyGradients');
    return this.s;
  }

  protected stepNative(ops: NativeOps, e: { param: tf.Tensor; slots: tf.Tensor[] }, grad: tf.Tensor): void {
    ops.applyAdam({ param: e.param, m: e.slots[0], v: e.slots[1] }, this.scalars(), grad);
  }

  protected stepOps(param: tf.Tensor, [m, v]: tf.Tensor[], grad: tf.Tensor): { param: tf.Tensor; slots: tf.Tensor[] } {
    const s = this.scalars();
    const o = eagerOps;
    const next = adamStep(
      o,
      { param, m, v, grad },
      {
        beta1: o.scalar(this.beta1),
        oneMinusBeta1: o.scalar(1 - this.beta1),
        beta2: o.scalar(this.beta2),
        oneMinusBeta2: o.scalar(1 - this.beta2),
        epsilon: o.scalar(this.epsilon),
        stepSize: s.stepSize,
        sqrtBias2: s.sqrtBias2,
      },
    );
    return { param: next.param, slots: [next.m, next.v] };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, config.beta1, config.beta2, config.epsilon);
  }
}
tf.serialization.registerClass(FusedAdam);
