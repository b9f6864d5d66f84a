// Our optimizers step either with TensorFlow's fused kernels (native backend) or with tfjs ops;
// both must compute the same update, match the textbook formula (tfjs's own Adam), survive
// weights changed behind their back, and round-trip their state in either mode.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { activeBackend, initBackend } from '../src/backend.js';
import { nativeOps } from '../src/native/tf-native.js';
import { FusedAdam } from '../src/optim/adam.js';
import { CenteredRMSprop } from '../src/optim/centered-rmsprop.js';
import { RMSpropTF } from '../src/optim/rmsprop-tf.js';
import { tf } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('auto');
});
afterEach(() => {
  delete process.env.COORDRL_NO_FUSED_KERNELS;
});

const native = () => activeBackend()?.backend === 'tensorflow';

function makeModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let x = tf.layers
    .conv2d({
      filters: 3,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'ones' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** Trains `steps` steps on seeded data and returns the flattened weights. */
function train(opt: tf.Optimizer, model: tf.LayersModel, steps: number, seed = 3): Float32Array[] {
  const rng = new Rng(seed);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const x = tf.tensor4d(
        new Float32Array(8 * 6 * 6 * 2).map(() => rng.normal()),
        [8, 6, 6, 2],
      );
      const y = tf.tensor2d(
        new Float32Array(8 * 2).map(() => rng.normal()),
        [8, 2],
      );
      opt.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, false, vars);
    });
  }
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    x.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - b[i][j]));
    });
  });
  return worst;
}

function inMode<T>(mode: 'native' | 'ops', f: () => T): T {
  if (mode === 'ops') process.env.COORDRL_NO_FUSED_KERNELS = '1';
  else delete process.env.COORDRL_NO_FUSED_KERNELS;
  try {
    return f();
  } finally {
    delete process.env.COORDRL_NO_FUSED_KERNELS;
  }
}

describe('FusedAdam', () => {
  it('follows the textbook Adam (tfjs tf.train.adam) in both modes', () => {
    const ref = train(tf.train.adam(1e-2, 0.9, 0.999, 1e-8), makeModel(), 30);
    for (const mode of ['native', 'ops'] as const) {
      const ours = inMode(mode, () => train(new FusedAdam(1e-2, 0.9, 0.999, 1e-8), makeModel(), 30));
      expect(maxAbsDiff(ours, ref)).toBeLessThan(2e-5);
      expect(
        maxAbsDiff(
          ours,
          makeModel()
            .getWeights()
            .map((w) => w.dataSync() as Float32Array),
        ),
      ).toBeGreaterThan(1e-2);
    }
  });

  it('native kernels and tfjs ops agree', () => {
    if (!native()) return; // the pure-JS backend has only the ops path
    expect(nativeOps()).not.toBeNull();
    const a = inMode('native', () => train(new FusedAdam(3e-3), makeModel(), 20));
    const b = inMode('ops', () => train(new FusedAdam(3e-3), makeModel(), 20));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it('picks up weights set from outside between steps (e.g. a restore or setWeights)', () => {
    for (const mode of ['native', 'ops'] as const) {
      const model = makeModel();
      const opt = new FusedAdam(1e-2);
      inMode(mode, () => train(opt, model, 3));
      const reset = makeModel()
        .getWeights()
        .map((w) => tf.add(w, 1));
      model.setWeights(reset); // the optimizer's mirror of the parameters is now stale
      const after = inMode(mode, () => train(opt, model, 1, 9));
      // the step starts from `reset`: an Adam step moves each weight by a few lr at most
      const moved = maxAbsDiff(
        after,
        reset.map((w) => w.dataSync() as Float32Array),
      );
      expect(moved).toBeGreaterThan(0);
      expect(moved).toBeLessThan(0.05);
      opt.dispose();
    }
  });
});

describe('RMSpropTF', () => {
  it('matches the TF1 formula (eps inside the root, mean squares start at one) in both modes', () => {
    // one step by hand: ms = 0.99 + 0.01 g^2; w -= lr g / sqrt(ms + eps)
    for (const mode of ['native', 'ops'] as const) {
      inMode(mode, () => {
        const w = tf.variable(tf.tensor1d([1, -2, 3]));
        const g = tf.tensor1d([0.5, -4, 0]);
        const opt = new RMSpropTF(0.1, 0.99, 1e-5);
        opt.applyGradients({ [w.name]: g });
        opt.applyGradients({ [w.name]: g });
        const expected = [1, -2, 3].map((w0, i) => {
          const gi = [0.5, -4, 0][i];
          let ms = 1;
          let v = w0;
          for (let k = 0; k < 2; k++) {
            ms = 0.99 * ms + 0.01 * gi * gi;
            v -= (0.1 * gi) / Math.sqrt(ms + 1e-5);
          }
          return v;
        });
        const got = Array.from(w.dataSync());
        for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
        opt.dispose();
        w.dispose();
      });
    }
  });

  it('native kernels and tfjs ops agree', () => {
    if (!native()) return;
    const a = inMode('native', () => train(new RMSpropTF(7e-4), makeModel(), 20));
    const b = inMode('ops', () => train(new RMSpropTF(7e-4), makeModel(), 20));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it('state saved in one mode restores into the other', async () => {
    const model = makeModel();
    const opt = new RMSpropTF(1e-2);
    inMode('native', () => train(opt, model, 5));
    const saved = await opt.getWeights();
    const values = saved.map((s) => ({ name: s.name, tensor: s.tensor.clone() }));
    const opt2 = new RMSpropTF(1e-2);
    await opt2.setWeights(values);
    const model2 = makeModel();
    model2.setWeights(model.getWeights());
    const a = inMode('native', () => train(opt, model, 3, 5));
    const b = inMode('ops', () => train(opt2, model2, 3, 5));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    expect(opt2.iterations).toBe(8);
  });
});

describe('CenteredRMSprop', () => {
  const w0 = [1, -2, 3, 0.25];
  const grads = [
    [0.5, -4, 0, 1e-3],
    [-1, 2, 0.5, 1e-3],
    [0.25, -0.5, -3, -2e-3],
  ];
  /** Three steps of RMSprop(centered, lr 0.1, alpha 0.95, momentum 0.95, eps 0.01) from w0. */
  function threeSteps(opt: CenteredRMSprop, mode: 'native' | 'ops'): number[] {
    return inMode(mode, () => {
      const w = tf.variable(tf.tensor1d(w0));
      for (const g of grads) tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor1d(g) }));
      const out = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      return out;
    });
  }
  /** The same steps by hand; eps outside the root (PyTorch) or inside (TensorFlow); momentum mu. */
  function byHand(epsInside: boolean, mu = 0.95): number[] {
    return w0.map((p0, i) => {
      let [ms, mg, mom, p] = [0, 0, 0, p0];
      for (const g of grads.map((row) => row[i])) {
        ms = 0.95 * ms + 0.05 * g * g;
        mg = 0.95 * mg + 0.05 * g;
        const v = ms - mg * mg;
        mom = mu * mom + (0.1 * g) / (epsInside ? Math.sqrt(v + 0.01) : Math.sqrt(v) + 0.01);
        p -= mom;
      }
      return p;
    });
  }
  // torch.optim.RMSprop([w], lr=0.1, alpha=0.95, eps=0.01, momentum=0.95, centered=True) on the same
  // gradients, torch 2.13.0 CPU: the MinAtar paper's optimizer (its DQN uses lr 2.5e-4).
  const PYTORCH = [0.462180495262146, -1.0498965978622437, 2.6231014728546143, 0.22211891412734985];

  it("is PyTorch's RMSprop(centered=True, momentum) by default, in both modes", () => {
    const hand = byHand(false);
    for (let i = 0; i < 4; i++) expect(hand[i]).toBeCloseTo(PYTORCH[i], 5);
    for (const mode of ['native', 'ops'] as const) {
      const got = threeSteps(new CenteredRMSprop(0.1, 0.95, 0.95, 0.01), mode);
      for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(PYTORCH[i], 5);
    }
  });

  it("without momentum is PyTorch's RMSprop(centered=True) with its default momentum 0 (the MinAtar paper's DQN)", () => {
    // torch's step without momentum: p -= lr g / (sqrt(ms - mg^2) + eps), no buffer carried over.
    const hand = byHand(false, 0);
    expect(Math.abs(hand[0] - PYTORCH[0])).toBeGreaterThan(1e-2); // momentum really changes the steps
    for (const mode of ['native', 'ops'] as const) {
      const got = threeSteps(new CenteredRMSprop(0.1, 0.95, 0, 0.01), mode);
      for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(hand[i], 5);
    }
  });

  it("with epsilon inside the root is TensorFlow's fused kernel, and the ops path agrees with it", () => {
    const hand = byHand(true);
    expect(Math.abs(hand[3] - PYTORCH[3])).toBeGreaterThan(1e-3); // the two forms really differ
    for (const mode of ['native', 'ops'] as const) {
      const got = threeSteps(new CenteredRMSprop(0.1, 0.95, 0.95, 0.01, true), mode);
      for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(hand[i], 5);
    }
    if (!native()) return;
    const a = inMode('native', () => train(new CenteredRMSprop(1e-3, 0.95, 0.95, 0.01, true), makeModel(), 20));
    const b = inMode('ops', () => train(new CenteredRMSprop(1e-3, 0.95, 0.95, 0.01, true), makeModel(), 20));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it('state saved in one mode restores into the other', async () => {
    const model = makeModel();
    const opt = new CenteredRMSprop(1e-3, 0.95, 0.95, 0.01, true);
    inMode('native', () => train(opt, model, 5));
    const saved = await opt.getWeights();
    expect(saved.length).toBe(1 + 3 * model.trainableWeights.length); // iterations + ms, mg, mom per variable
    const opt2 = new CenteredRMSprop(1e-3, 0.95, 0.95, 0.01, true);
    await opt2.setWeights(saved.map((s) => ({ name: s.name, tensor: s.tensor.clone() })));
    const model2 = makeModel();
    model2.setWeights(model.getWeights());
    const a = inMode('native', () => train(opt, model, 3, 5));
    const b = inMode('ops', () => train(opt2, model2, 3, 5));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });
});

describe('native kernels', () => {
  it("relu's gradient is dy where x > 0", () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 3]);
    const dy = tf.tensor1d([1, 2, 3, 4, 5]);
    const g = tf.grad((t: tf.Tensor) => tf.relu(t))(x, dy);
    expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 4, 5]);
  });

  it('uint8 frames widen to the same floats as tfjs makes', () => {
    const ops = nativeOps();
    if (!ops) return;
    const bytes = new Uint8Array(2 * 3 * 3 * 4).map((_, i) => (i * 37) % 256);
    const a = ops.uint8ToFloat(bytes, [2, 3, 3, 4]);
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3, 3, 4]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(bytes));
    expect(ops.sumOfSquares(tf.tensor1d([1, 2, 3])).dataSync()[0]).toBeCloseTo(14, 5);
    a.dispose();
  });

  it('leaks no tensors per step', () => {
    for (const mode of ['native', 'ops'] as const) {
      const model = makeModel();
      const opt = new FusedAdam(1e-3);
      inMode(mode, () => train(opt, model, 2));
      const before = tf.memory().numTensors;
      inMode(mode, () => train(opt, model, 3));
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      model.dispose();
    }
  });
});
