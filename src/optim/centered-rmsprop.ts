// Centered RMSprop with optional momentum (Graves 2013), as the MinAtar paper's DQN uses it through
// PyTorch's RMSprop(centered=True, alpha, eps) (momentum 0 there; docs/minatar.md): the second moment is centred by the running mean
// gradient, and epsilon is added OUTSIDE the root (PyTorch's form):
//   ms = a ms + (1 - a) g^2;  mg = a mg + (1 - a) g;  mom = mu mom + lr g / (sqrt(ms - mg^2) + eps);  p -= mom
// (PyTorch keeps its buffer without lr and multiplies by lr at the end; at a constant learning rate that
// is the same update.) All slots start at zero, as in PyTorch.
//
// TensorFlow's fused ResourceApplyCenteredRMSProp computes the same step with epsilon INSIDE the root
// (sqrt(ms - mg^2 + eps): DeepMind's "min squared gradient"). With `epsilonInside: true` that is the
// formula and the native backend runs the fused kernel; with PyTorch's form (the default) no fused
// kernel exists and the step is tfjs ops on either backend.
import type { NativeOps } from '../native/tf-native.js';
import { eagerOps } from '../ops/eager-ops.js';
import type { Ops } from '../ops/ops.js';
import { tf } from '../tf.js';
import { SlotOptimizer } from './slot-optimizer.js';

/**
 * One variable's step in the formulas above, over Ops: the tfjs-ops step here and the compiled
 * graph's step (src/compiled/optimizer-graph.ts, PyTorch form, which has no fused kernel) both run
 * it. The constants are tensors of the caller's (a graph creates them once for all variables).
 * Returns the new slots; the parameter moves by -mom.
 */
export function centeredRmspropStep<T>(
  ops: Ops<T>,
  { ms, mg, mom, grad }: { ms: T; mg: T; mom: T; grad: T },
  c: { decay: T; oneMinusDecay: T; momentum: T; epsilon: T; lr: T },
  epsilonInside: boolean,
): { ms: T; mg: T; mom: T } {
  const ms2 = ops.add(ops.mul(ms, c.decay), ops.mul(ops.square(grad), c.oneMinusDecay));
  const mg2 = ops.add(ops.mul(mg, c.decay), ops.mul(grad, c.oneMinusDecay));
  // ms - mg^2 >= 0 in exact arithmetic (a variance); clamp the float rounding below zero.
  const variance = ops.relu(ops.sub(ms2, ops.square(mg2)));
  const denom = epsilonInside ? ops.sqrt(ops.add(variance, c.epsilon)) : ops.add(ops.sqrt(variance), c.epsilon);
  const mom2 = ops.add(ops.mul(mom, c.momentum), ops.div(ops.mul(grad, c.lr), denom));
  return { ms: ms2, mg: mg2, mom: mom2 };
}

export class CenteredRMSprop extends SlotOptimizer {
  static className = 'CenteredRMSprop';
  protected readonly slotNames = ['ms', 'mg', 'mom'] as const;
  private s: { lr: tf.Scalar; rho: tf.Scalar; momentum: tf.Scalar; eps: tf.Scalar } | null = null;

  constructor(
    public learningRate: number,
    public readonly decay = 0.95,
    public readonly momentum = 0.95,
    public readonly epsilon = 0.01,
    /** false: PyTorch's sqrt(ms - mg^2) + eps; true: TensorFlow's sqrt(ms - mg^2 + eps) (fused kernel). */
    public readonly epsilonInside = false,
  ) {
    super();
  }

  protected override nativeStepsAvailable(): boolean {
    return this.epsilonInside;
  }

  protected initSlot(_k: number, variable: tf.Tensor): tf.Tensor {
    return tf.zerosLike(variable);
  }

  protected beginUpdate(): void {
    this.s = {
      lr: tf.scalar(this.learningRate),
      rho: tf.scalar(this.decay),
      momentum: tf.scalar(this.momentum),
      eps: tf.scalar(this.epsilon),
    };
  }

  protected stepNative(ops: NativeOps, e: { param: tf.Tensor; slots: tf.Tensor[] }, grad: tf.Tensor): void {
    if (!this.s) throw new Error('CenteredRMSprop: step outside applyGradients');
    ops.applyCenteredRMSProp({ param: e.param, mg: e.slots[1], ms: e.slots[0], mom: e.slots[2] }, this.s, grad);
  }

  protected stepOps(
    param: tf.Tensor,
    [ms, mg, mom]: tf.Tensor[],
    grad: tf.Tensor,
  ): { param: tf.Tensor; slots: tf.Tensor[] } {
    const o = eagerOps;
    const next = centeredRmspropStep(
      o,
      { ms, mg, mom, grad },
      {
        decay: o.scalar(this.decay),
        oneMinusDecay: o.scalar(1 - this.decay),
        momentum: o.scalar(this.momentum),
        epsilon: o.scalar(this.epsilon),
        lr: o.scalar(this.learningRate),
      },
      this.epsilonInside,
    );
    return { param: tf.sub(param, next.mom), slots: [next.ms, next.mg, next.mom] };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      decay: this.decay,
      momentum: this.momentum,
      epsilon: this.epsilon,
      epsilonInside: this.epsilonInside,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, config.decay, config.momentum, config.epsilon, config.epsilonInside);
  }
}
tf.serialization.registerClass(CenteredRMSprop);
