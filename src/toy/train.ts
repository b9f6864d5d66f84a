// Training and evaluation for the supervised coordinate tasks.
import { tf } from '../tf.js';
import {
  CANVAS,
  type Centre,
  coordinateTensor,
  oneHotImages,
  pixelLabels,
  seededRandom,
  shuffleInPlace,
  splitCentres,
  type ToySplit,
  unscaleToPixel,
} from './data.js';
import { buildToyModel, type ToyArch, type ToyTask } from './models.js';

export interface ToyOptions {
  task: ToyTask;
  split: ToySplit;
  arch: ToyArch;
  /** Passes over the training set (default: DEFAULT_EPOCHS[task][arch]). */
  epochs?: number;
  /** Seeds the uniform split, the weight init and the batch order (default 0). */
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  /** Called after every epoch (for progress output). */
  onEpoch?: (log: ToyEpochLog) => void;
  /** Evaluate the train/test accuracy after every epoch and pass it to onEpoch (slower). */
  evalEveryEpoch?: boolean;
}

export interface ToyEpochLog {
  epoch: number;
  loss: number;
  seconds: number;
  trainAccuracy?: number;
  testAccuracy?: number;
}

export interface ToyResult {
  task: ToyTask;
  split: ToySplit;
  arch: ToyArch;
  params: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Wall time of training and evaluation (not data preparation). */
  seconds: number;
  epochs: number;
  trainSize: number;
  testSize: number;
  /** Mean training loss over the last epoch. */
  finalLoss: number;
  seed: number;
  batchSize: number;
  learningRate: number;
}

/**
 * Epoch budgets chosen so that every run finishes in about 3 minutes or less on 2 CPU cores
 * (CoordConv classification: ~25 s per epoch there; deconv classification ~6 s; regression ~2-3 s).
 */
export const DEFAULT_EPOCHS: Record<ToyTask, Record<ToyArch, number>> = {
  classification: { coordconv: 4, conv: 25 },
  regression: { coordconv: 15, conv: 40 },
};
export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_LEARNING_RATE: Record<ToyTask, number> = { classification: 1e-3, regression: 1e-3 };

/** Model input for a set of centres: coordinates for classification, one-hot images for regression. */
export function toyInputs(task: ToyTask, centres: Centre[]): tf.Tensor {
  return task === 'classification' ? coordinateTensor(centres) : oneHotImages(centres);
}

/** Training targets: pixel indices (int32) for classification, scaled (x, y) for regression. */
export function toyTargets(task: ToyTask, centres: Centre[]): tf.Tensor {
  return task === 'classification' ? pixelLabels(centres) : coordinateTensor(centres);
}

/** Mean loss of a batch: softmax cross-entropy over the 4,096 pixels, or mean squared error. */
export function toyLoss(task: ToyTask, prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    if (task === 'classification') {
      const oneHot = tf.oneHot(target as tf.Tensor1D, CANVAS * CANVAS);
      return tf.losses.softmaxCrossEntropy(oneHot, prediction) as tf.Scalar;
    }
    return tf.losses.meanSquaredError(target, prediction) as tf.Scalar;
  });
}

/**
 * Fraction of examples solved exactly: classification, the argmax pixel is the centre pixel;
 * regression, both predicted coordinates round to the true pixel.
 */
export function toyAccuracy(model: tf.LayersModel, task: ToyTask, centres: Centre[], batchSize = 256): number {
  if (centres.length === 0) return Number.NaN;
  let correct = 0;
  for (let start = 0; start < centres.length; start += batchSize) {
    const chunk = centres.slice(start, start + batchSize);
    const pred = tf.tidy(() => {
      const out = model.predict(toyInputs(task, chunk)) as tf.Tensor;
      return task === 'classification' ? tf.argMax(out, 1) : out;
    });
    const v = pred.dataSync();
    pred.dispose();
    chunk.forEach((c, i) => {
      if (task === 'classification') {
        if (v[i] === c.y * CANVAS + c.x) correct++;
      } else if (unscaleToPixel(v[2 * i]) === c.x && unscaleToPixel(v[2 * i + 1]) === c.y) {
        correct++;
      }
    });
  }
  return correct / centres.length;
}

/** Trains `model` in place with Adam; returns the mean loss of each epoch. */
export function trainToyModel(
  model: tf.LayersModel,
  task: ToyTask,
  train: Centre[],
  opts: {
    epochs: number;
    seed: number;
    batchSize: number;
    learningRate: number;
    onEpoch?: (log: ToyEpochLog) => void;
    evaluate?: () => { trainAccuracy: number; testAccuracy: number };
  },
): number[] {
  const optimizer = tf.train.adam(opts.learningRate);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const xs = toyInputs(task, train);
  const ys = toyTargets(task, train);
  const rand = seededRandom(opts.seed + 7919);
  const order = train.map((_, i) => i);
  const losses: number[] = [];
  const t0 = performance.now();
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      shuffleInPlace(order, rand);
      let sum = tf.scalar(0);
      let batches = 0;
      for (let start = 0; start < order.length; start += opts.batchSize) {
        const idx = tf.tensor1d(order.slice(start, start + opts.batchSize), 'int32');
        const loss = optimizer.minimize(
          () => {
            const xb = tf.gather(xs, idx);
            const yb = tf.gather(ys, idx);
            return toyLoss(task, model.apply(xb, { training: true }) as tf.Tensor, yb);
          },
          true,
          varList,
        ) as tf.Scalar;
        idx.dispose();
        const next = tf.add(sum, loss) as tf.Scalar;
        sum.dispose();
        loss.dispose();
        sum = next;
        batches++;
      }
      const mean = sum.dataSync()[0] / batches;
      sum.dispose();
      losses.push(mean);
      if (opts.onEpoch) {
        const log: ToyEpochLog = { epoch, loss: mean, seconds: (performance.now() - t0) / 1000 };
        opts.onEpoch(opts.evaluate ? { ...log, ...opts.evaluate() } : log);
      }
    }
  } finally {
    xs.dispose();
    ys.dispose();
    optimizer.dispose();
  }
  return losses;
}

/** Builds, trains and evaluates one model on one split. Call initBackend() first. */
export async function runToy(opts: ToyOptions): Promise<ToyResult> {
  const seed = opts.seed ?? 0;
  const epochs = opts.epochs ?? DEFAULT_EPOCHS[opts.task][opts.arch];
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const learningRate = opts.learningRate ?? DEFAULT_LEARNING_RATE[opts.task];
  const { train, test } = splitCentres(opts.split, seed);
  const model = buildToyModel(opts.task, opts.arch, seed);
  try {
    const t0 = performance.now();
    const losses = trainToyModel(model, opts.task, train, {
      epochs,
      seed,
      batchSize,
      learningRate,
      onEpoch: opts.onEpoch,
      evaluate: opts.evalEveryEpoch
        ? () => ({
            trainAccuracy: toyAccuracy(model, opts.task, train),
            testAccuracy: toyAccuracy(model, opts.task, test),
          })
        : undefined,
    });
    const trainAccuracy = toyAccuracy(model, opts.task, train);
    const testAccuracy = toyAccuracy(model, opts.task, test);
    const seconds = (performance.now() - t0) / 1000;
    return {
      task: opts.task,
      split: opts.split,
      arch: opts.arch,
      params: model.countParams(),
      trainAccuracy,
      testAccuracy,
      seconds,
      epochs,
      trainSize: train.length,
      testSize: test.length,
      finalLoss: losses[losses.length - 1] ?? Number.NaN,
      seed,
      batchSize,
      learningRate,
    };
  } finally {
    model.dispose();
  }
}
