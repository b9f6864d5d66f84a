// `coordrl bench ...`: benchmarks that print numbers (and JSON), never timed unit tests.
import { type Command, Option } from 'commander';
import { type BackendChoice, initBackend } from '../backend.js';
import { PRECISIONS, type Precision } from '../compiled/precision.js';
import { floatInput, nativeOps } from '../native/tf-native.js';
import { FusedAdam } from '../optim/adam.js';
import { tf } from '../tf.js';
import { applyTorso, countParams, type TorsoKind } from '../torsos.js';
import { positiveInt, UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import {
  type AgentNet,
  benchUpdates,
  formatUpdates,
  MINATAR_BENCH_OPTIMIZERS,
  type MinatarBenchOptimizer,
} from '../bench/updates.js';
import { backendOption, jsonOption } from './options.js';
import { percentile } from '../bench/percentile.js';

export type BenchRegistrar = (bench: Command) => void;

async function timeIt(iters: number, warmup: number, fn: () => Promise<void> | void): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

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
  const trainTimes = await timeIt(opts.iters, 3, train);
  const inferTimes = await timeIt(opts.iters * 4, 5, infer);
  const result: NnBenchResult = {
    backend: info.backend,
    device: info.device,
    tensorflowVersion: info.tensorflowVersion,
    fusedKernels: nativeOps() !== null,
    torso: opts.torso,
    params: countParams(model),
    trainBatch: opts.trainBatch,
    trainStepMsP50: percentile(trainTimes, 50),
    trainStepMsP95: percentile(trainTimes, 95),
    inferBatch: opts.inferBatch,
    inferMsP50: percentile(inferTimes, 50),
    inferMsP95: percentile(inferTimes, 95),
    iterations: opts.iters,
  };
  tf.dispose([xTrain, yTrain]);
  optimizer.dispose();
  model.dispose();
  return result;
}

const extraRegistrars: BenchRegistrar[] = [];
/** Lets other modules add `bench` subcommands (env, replay, train) without a cycle. */
export function addBenchSubcommand(register: BenchRegistrar): void {
  extraRegistrars.push(register);
}

export function registerBench(program: Command, more: BenchRegistrar[] = []): void {
  const bench = program
    .command('bench')
    .description('benchmarks that print numbers (use --json for machine-readable output)');
  bench
    .command('nn')
    .description(
      'time one eager Adam train step (batch 32) and batch-8 inference of the Nature CNN on the active backend; ' +
        "with --net mlp|minatar|cnn, the agents' updates and inference, compiled and eager",
    )
    .addOption(
      new Option(
        '--net <kind>',
        "nature: the Nature CNN, eager; cnn: the agents' Nature CNN calls on 84x84x4 frames; mlp: CartPole 64-64 MLP; minatar: the MinAtar network",
      )
        .choices(['nature', 'cnn', 'mlp', 'minatar'])
        .default('nature'),
    )
    .addOption(
      new Option('--torso <kind>', 'network torso (--net nature|cnn)').choices(['conv', 'coordconv']).default('conv'),
    )
    .addOption(
      new Option(
        '--precision <p>',
        '--net cnn|mlp|minatar: bf16 adds a compiled-bf16 column (updates in bfloat16 mixed precision, fp32 weights)',
      ).choices([...PRECISIONS]),
    )
    .addOption(
      new Option(
        '--optimizer <name>',
        "--net minatar: the DQN update's optimizer (default centered-rmsprop, the MinAtar DQN preset's)",
      ).choices([...MINATAR_BENCH_OPTIMIZERS]),
    )
    .option('--iters <n>', 'timed iterations', positiveInt('--iters'), 30)
    .option('--train-batch <n>', 'batch size of the train step', positiveInt('--train-batch'), 32)
    .option('--infer-batch <n>', 'batch size of the inference', positiveInt('--infer-batch'), 8)
    .addOption(backendOption())
    .addOption(jsonOption())
    .action(
      async (o: {
        net: 'nature' | AgentNet;
        torso: TorsoKind;
        optimizer?: MinatarBenchOptimizer;
        precision?: Precision;
        iters: number;
        trainBatch: number;
        inferBatch: number;
        backend: BackendChoice;
        json?: boolean;
      }) => {
        if (o.optimizer !== undefined && o.net !== 'minatar') {
          throw new UsageError(
            `--optimizer applies to --net minatar only (got --net ${o.net}); drop it or pass --net minatar`,
          );
        }
        if (o.precision !== undefined && o.net === 'nature') {
          throw new UsageError(
            '--precision applies to the compiled calls (--net cnn|mlp|minatar); --net nature times eager tfjs ops',
          );
        }
        if (o.torso !== 'conv' && o.net !== 'nature' && o.net !== 'cnn') {
          throw new UsageError(`--torso applies to --net nature|cnn (got --net ${o.net}); drop it`);
        }
        if (o.net !== 'nature') {
          const u = await benchUpdates({
            net: o.net,
            backend: o.backend,
            // The small nets' calls take microseconds to milliseconds: at least 200 for stable
            // percentiles; a CNN update takes tens of milliseconds.
            iters: o.net === 'cnn' ? o.iters : Math.max(o.iters, 200),
            optimizer: o.optimizer,
            torso: o.torso === 'coordconv' ? 'coordconv' : 'conv',
            precision: o.precision,
          });
          printResult(Boolean(o.json), u, () => formatUpdates(u));
          return;
        }
        const r = await benchNn(o);
        printResult(Boolean(o.json), r, () =>
          [
            `Nature CNN (${r.torso}, ${r.params.toLocaleString()} params) on ${r.backend}/${r.device}${r.tensorflowVersion ? ` (TensorFlow ${r.tensorflowVersion})` : ''}`,
            `  train step (Adam, batch ${r.trainBatch}): p50 ${r.trainStepMsP50.toFixed(1)} ms, p95 ${r.trainStepMsP95.toFixed(1)} ms`,
            `  inference (batch ${r.inferBatch}):        p50 ${r.inferMsP50.toFixed(2)} ms, p95 ${r.inferMsP95.toFixed(2)} ms`,
          ].join('\n'),
        );
      },
    );
  for (const register of [...more, ...extraRegistrars]) register(bench);
}
