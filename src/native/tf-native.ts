// TensorFlow kernels that tfjs's op set does not reach, called directly on the native backend
// (tfjs-node / tfjs-node-gpu expose TensorFlow's eager executor through `executeMultipleOutputs`).
//
// Why: tfjs composes an optimizer step from ~13 element-wise ops per variable, each a full pass
// over memory with a fresh output buffer, and differentiates relu as dy * step(x), where tfjs-node's
// Step is itself several TensorFlow ops. For the Nature CNN (1.7M weights, 1.6M of them in one
// dense kernel) those passes cost more than the convolutions. TensorFlow has fused kernels for all
// of it: ResourceApplyAdam / ResourceApplyRMSProp update a resource variable in place in one pass,
// ReluGrad is one pass, L2Loss sums squares without materialising them, Cast widens uint8 frames
// inside TensorFlow. Measured on this project's 2-core CPU (batch 32 Adam step, Nature CNN):
// 33.5 ms with tfjs ops, 19.6 ms with these kernels.
//
// Everything here is optional: `nativeOps()` is null on the pure-JS backend and callers fall back
// to tfjs ops that compute the same thing.
import { tf } from '../tf.js';

/** The subset of tfjs-node's NodeJSKernelBackend and its binding used here. */
interface NodeBinding {
  TF_FLOAT: number;
  TF_UINT8: number;
  TF_ATTR_TYPE: number;
  TF_ATTR_SHAPE: number;
  TF_ATTR_STRING: number;
  TF_ATTR_BOOL: number;
  createTensor(shape: number[], dtype: number, values: Uint8Array): number;
}
interface TensorMetadata {
  id: number;
  shape: number[];
  dtype: number;
}
interface NodeKernelBackend {
  binding: NodeBinding;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[];
  createOutputTensor(metadata: TensorMetadata): tf.Tensor;
}
interface OpAttr {
  name: string;
  type: number;
  value: number | string | boolean | number[];
}

/**
 * TensorFlow's "anonymous" shared name: a resource created with it belongs to its handle and is
 * freed with it (TF2 eager variables use the same convention), so nothing outlives its tensor.
 */
const ANONYMOUS_RESOURCE = 'cd2c89b7-88b7-44c8-ad83-06c2a9158347';

function isNodeKernelBackend(b: unknown): b is NodeKernelBackend {
  const c = b as Partial<NodeKernelBackend> | null;
  return (
    c != null &&
    typeof c.executeMultipleOutputs === 'function' &&
    typeof c.createOutputTensor === 'function' &&
    typeof c.binding?.createTensor === 'function' &&
    typeof c.binding.TF_ATTR_SHAPE === 'number'
  );
}

/** The scalar inputs of ResourceApplyAdam, float32. */
export interface AdamScalars {
  beta1Power: tf.Scalar;
  beta2Power: tf.Scalar;
  lr: tf.Scalar;
  beta1: tf.Scalar;
  beta2: tf.Scalar;
  eps: tf.Scalar;
}

/** Direct TensorFlow ops on the native backend. Get one with `nativeOps()`. */
export class NativeOps {
  private readonly b: NodeBinding;
  private readonly floatT: OpAttr;

  constructor(private readonly backend: NodeKernelBackend) {
    this.b = backend.binding;
    this.floatT = { name: 'T', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT };
  }

  private run(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[] {
    return this.backend.executeMultipleOutputs(name, attrs, inputs, numOutputs);
  }

  private dtypeAttr(): OpAttr {
    return { name: 'dtype', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT };
  }

  /** A float32 resource variable of `shape` holding `initial`; returns its handle (a scalar tensor). */
  createVariable(initial: tf.Tensor): tf.Tensor {
    const [handle] = this.run(
      'VarHandleOp',
      [
        this.dtypeAttr(),
        { name: 'shape', type: this.b.TF_ATTR_SHAPE, value: initial.shape },
        { name: 'shared_name', type: this.b.TF_ATTR_STRING, value: ANONYMOUS_RESOURCE },
        { name: 'container', type: this.b.TF_ATTR_STRING, value: '' },
      ],
      [],
      1,
    );
    this.assignVariable(handle, initial);
    return handle;
  }

  assignVariable(handle: tf.Tensor, value: tf.Tensor): void {
    this.run('AssignVariableOp', [this.dtypeAttr()], [handle, value], 0);
  }

  /** The variable's current value as a new tensor (shares memory until either side changes). */
  readVariable(handle: tf.Tensor): tf.Tensor {
    return this.run('ReadVariableOp', [this.dtypeAttr()], [handle], 1)[0];
  }

  /**
   * One in-place Adam step (TensorFlow's ResourceApplyAdam; all scalars float32):
   * m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); var -= lr sqrt(1 - b2^t)/(1 - b1^t) m / (sqrt(v) + eps).
   */
  applyAdam(vars: { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor }, s: AdamScalars, grad: tf.Tensor): void {
    this.run(
      'ResourceApplyAdam',
      [this.floatT],
      [vars.param, vars.m, vars.v, s.beta1Power, s.beta2Power, s.lr, s.beta1, s.beta2, s.eps, grad],
      0,
    );
  }

  /**
   * One in-place RMSProp step (TensorFlow's ResourceApplyRMSProp, epsilon inside the root):
   * ms += (g^2 - ms)(1 - rho); mom = momentum mom + lr g / sqrt(ms + eps); var -= mom.
   */
  applyRMSProp(
    vars: { param: tf.Tensor; ms: tf.Tensor; mom: tf.Tensor },
    s: { lr: tf.Scalar; rho: tf.Scalar; momentum: tf.Scalar; eps: tf.Scalar },
    grad: tf.Tensor,
  ): void {
    this.run(
      'ResourceApplyRMSProp',
      [this.floatT],
      [vars.param, vars.ms, vars.mom, s.lr, s.rho, s.momentum, s.eps, grad],
      0,
    );
  }

  /**
   * One in-place centered RMSProp step (TensorFlow's ResourceApplyCenteredRMSProp, epsilon inside the root):
   * mg += (g - mg)(1 - rho); ms += (g^2 - ms)(1 - rho); mom = momentum mom + lr g / sqrt(ms - mg^2 + eps);
   * var -= mom.
   */
  applyCenteredRMSProp(
    vars: { param: tf.Tensor; mg: tf.Tensor; ms: tf.Tensor; mom: tf.Tensor },
    s: { lr: tf.Scalar; rho: tf.Scalar; momentum: tf.Scalar; eps: tf.Scalar },
    grad: tf.Tensor,
  ): void {
    this.run(
      'ResourceApplyCenteredRMSProp',
      [this.floatT],
      [vars.param, vars.mg, vars.ms, vars.mom, s.lr, s.rho, s.momentum, s.eps, grad],
      0,
    );
  }

  /** dy where x > 0, else 0: relu's gradient in one pass. */
  reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
    return this.run('ReluGrad', [this.floatT], [dy, x], 1)[0];
  }

  /** sum(x^2) without materialising x^2 (TensorFlow's L2Loss is half of it). */
  sumOfSquares(x: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.mul(this.run('L2Loss', [this.floatT], [x], 1)[0], 2) as tf.Scalar);
  }

  /**
   * Bytes as a float32 tensor: TensorFlow reads the Uint8Array in place and widens it (tfjs would
   * first convert it to a Float32Array in JavaScript, about 1.3 ms per 32 Atari observations).
   */
  uint8ToFloat(data: Uint8Array, shape: number[]): tf.Tensor {
    const id = this.b.createTensor(shape, this.b.TF_UINT8, data);
    const raw = this.backend.createOutputTensor({ id, shape, dtype: this.b.TF_UINT8 });
    try {
      return this.run(
        'Cast',
        [
          { name: 'SrcT', type: this.b.TF_ATTR_TYPE, value: this.b.TF_UINT8 },
          { name: 'DstT', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT },
          { name: 'Truncate', type: this.b.TF_ATTR_BOOL, value: false },
        ],
        [raw],
        1,
      )[0];
    } finally {
      raw.dispose();
    }
  }
}

let cached: { backend: unknown; ops: NativeOps | null } | null = null;

/** The native ops for the active backend, or null when it is not TensorFlow (pure-JS 'cpu'). */
export function nativeOps(): NativeOps | null {
  if (process.env.COORDRL_NO_FUSED_KERNELS === '1') return null;
  const backend = tf.getBackend() === 'tensorflow' ? tf.backend() : null;
  if (cached?.backend !== backend) {
    cached = { backend, ops: isNodeKernelBackend(backend) ? new NativeOps(backend) : null };
  }
  return cached.ops;
}

/** Observations as a float32 tensor: uint8 frames widened inside TensorFlow when it runs, else by tfjs. */
export function floatInput(obs: Uint8Array | Float32Array, shape: number[]): tf.Tensor {
  const ops = obs instanceof Uint8Array ? nativeOps() : null;
  return ops ? ops.uint8ToFloat(obs as Uint8Array, shape) : tf.tensor(obs, shape, 'float32');
}

let reluGradInstalled = false;

/**
 * Makes relu's gradient TensorFlow's one-pass ReluGrad when the native backend runs (tfjs's own
 * is dy * step(x), four passes on tfjs-node). Idempotent; other backends keep tfjs's gradient.
 */
export function installNativeGradients(): void {
  if (reluGradInstalled) return;
  reluGradInstalled = true;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [x] = saved;
      const ops = nativeOps();
      return {
        x: () => (ops ? ops.reluGrad(g, x) : tf.mul(g, tf.cast(tf.step(x), 'float32'))),
      };
    },
  });
}
