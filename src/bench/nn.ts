// `coordrl bench nn` (--net nature): one eager Adam train step and batch inference of the Nature
// CNN (or its CoordConv variant) with 6 outputs on the active backend.
import { type BackendChoice, initBackend } from '../backend.js';
import { floatInput, nativeOps } from '../native/tf-native.js';
import { FusedAdam } from '../optim/adam.js';
import { tf } from '../tf.js';
import { applyTorso, countParams, type TorsoKind } from '../torsos.js';
import { percentile, timeCalls } from './timing.js';

export interface NnBenchResult {
  backend: string;
  device: string;
  tensorflowVersion: string | null;
  /** TensorFlow's fused kernels in use (native backend, COORDRL_NO_FUSED_KERNELS unset). */
  fusedKernels: boolean;
  torso: TorsoKind;
  params: number;
  trainBatch: number;
  trainStepMsP50: number;
  trainStepMsP95: number;
  inferBatch: number;
  inferMsP50: number;
  inferMsP95: number;
  iterations: number;
}

/** The Nature CNN (or its CoordConv variant) with 6 outputs: one Adam step on a batch of 32, inference on 8. */
export async function benchNn(opts: {
  backend: BackendChoice;
  torso: TorsoKind;
  iters: number;
  trainBatch: number;
  inferBatch: number;
}): Promise<NnBenchResult> {
  const info = await initBackend(opts.backend);
  const input = tf.input({ shape: [84, 84, 4] });
  const q = tf.layers.dense({ units: 6 }).apply(applyTorso(input, { kind: opts.torso })) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: q });
  const optimizer = new FusedAdam(1e-4);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const xTrain = tf.randomUniform([opts.trainBatch, 84, 84, 4], 0, 255);
  const yTrain = tf.randomNormal([opts.trainBatch, 6]);
  const pixels = new Uint8Array(opts.inferBatch * 84 * 84 * 4).map((_, i) => (i * 31) % 256);

  const train = async () => {
    const loss = optimizer.minimize(
      () => tf.losses.huberLoss(yTrain, model.apply(xTrain, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
      vars,
    );
    await loss?.data();
    loss?.dispose();
  };
  // Inference as the agents do it: uint8 frames in, action values out on the CPU.
  const infer = async () => {
    const out = tf.tidy(() => model.apply(floatInput(pixels, [opts.inferBatch, 84, 84, 4])) as tf.Tensor);
    await out.data();
    out.dispose();
  };
  const [trainTimes] = await timeCalls([train], opts.iters, 3);
  const [inferTimes] = await timeCalls([infer], opts.iters * 4, 5);
  const result: NnBenchResult = {
    backend: info.backend,
    device: info.device,
    tensorflowVersion: info.tensorflowVersion,
    fusedKernels: nativeOps() !== null,
    torso: opts.torso,
    params: countParams(model),
    trainBatch: opts.trainBatch,
    trainStepMsP50: percentile(trainTimes, 50, 'nearest'),
    trainStepMsP95: percentile(trainTimes, 95, 'nearest'),
    inferBatch: opts.inferBatch,
    inferMsP50: percentile(inferTimes, 50, 'nearest'),
    inferMsP95: percentile(inferTimes, 95, 'nearest'),
    iterations: opts.iters,
  };
  tf.dispose([xTrain, yTrain]);
  optimizer.dispose();
  model.dispose();
  return result;
}

export function formatNn(r: NnBenchResult): string {
  return [
    `Nature CNN (${r.torso}, ${r.params.toLocaleString()} params) on ${r.backend}/${r.device}${r.tensorflowVersion ? ` (TensorFlow ${r.tensorflowVersion})` : ''}`,
    `  train step (Adam, batch ${r.trainBatch}): p50 ${r.trainStepMsP50.toFixed(1)} ms, p95 ${r.trainStepMsP95.toFixed(1)} ms`,
    `  inference (batch ${r.inferBatch}):        p50 ${r.inferMsP50.toFixed(2)} ms, p95 ${r.inferMsP95.toFixed(2)} ms`,
  ].join('\n');
}
