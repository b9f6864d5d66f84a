import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeBackend, initBackend } from '../src/backend.js';
import {
  loadLatestGood,
  loadModelFromDir,
  readOptimizerState,
  restoreOptimizerState,
  saveCheckpoint,
  saveModelToDir,
  saveOptimizerState,
  writeOptimizerState,
} from '../src/checkpoint/index.js';
import { FusedAdam } from '../src/optim/adam.js';
import { CenteredRMSprop } from '../src/optim/centered-rmsprop.js';
import { RMSpropTF } from '../src/optim/rmsprop-tf.js';
import { FrameReplayBuffer } from '../src/replay/index.js';
import { tf } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';

let root: string;
beforeAll(async () => {
  await initBackend('auto');
  root = await mkdtemp(path.join(os.tmpdir(), 'ckpt-tf-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function makeModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 2] });
  let x = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(x) as tf.SymbolicTensor;
  const q = tf.layers
    .dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: q });
}

function batch(rng: Rng, n = 16): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const xs = new Float32Array(n * 8 * 8 * 2).map(() => rng.normal());
  const ys = new Float32Array(n * 3).map(() => rng.normal());
  return { x: tf.tensor4d(xs, [n, 8, 8, 2]), y: tf.tensor2d(ys, [n, 3]) };
}

function trainSteps(model: tf.LayersModel, opt: tf.Optimizer, rng: Rng, steps: number): void {
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let i = 0; i < steps; i++) {
    const { x, y } = batch(rng);
    tf.tidy(() => {
      opt.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, false, varList);
    });
    x.dispose();
    y.dispose();
  }
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('model I/O without the file:// handler', () => {
  it('round trip gives identical weights and outputs; the files are standard tfjs format', async () => {
    const model = makeModel(1);
    const dir = path.join(root, 'model-a');
    const files = await saveModelToDir(model, dir);
    expect(files).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/TensorFlow\.js/);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights.length).toBe(6);
    const loaded = await loadModelFromDir(dir);
    expect(weightsOf(loaded)).toEqual(weightsOf(model));
    const x = tf.randomNormal([5, 8, 8, 2], 0, 1, 'float32', 7);
    expect((loaded.predict(x) as tf.Tensor).dataSync()).toEqual((model.predict(x) as tf.Tensor).dataSync());
    // and tfjs itself reads it, where a file:// handler is registered (tfjs-node)
    const handlers = tf.io.getLoadHandlers(`file://${dir}/model.json`);
    if (activeBackend()?.package) expect(handlers.length).toBeGreaterThan(0); // tfjs-node registers file://
    if (handlers.length > 0) {
      const viaTf = await tf.loadLayersModel(`file://${dir}/model.json`);
      expect(weightsOf(viaTf)).toEqual(weightsOf(model));
    }
  });
});

describe('optimizer state: exact continuation after restore into a new model and optimizer', () => {
  const makers: [string, () => tf.Optimizer][] = [
    ['Adam', () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8)],
    ['RMSProp (momentum, centered)', () => tf.train.rmsprop(1e-3, 0.95, 0.9, 1e-6, true)],
    ['RMSProp (plain)', () => tf.train.rmsprop(2.5e-4, 0.95, 0, 0.01)],
    ['FusedAdam (ours)', () => new FusedAdam(1e-3, 0.9, 0.999, 1e-8)],
    ['RMSpropTF (ours)', () => new RMSpropTF(7e-4, 0.99, 1e-5)],
    ['CenteredRMSprop (ours, PyTorch form)', () => new CenteredRMSprop(2.5e-4, 0.95, 0.95, 0.01)],
    ['CenteredRMSprop (ours, fused TF form)', () => new CenteredRMSprop(2.5e-4, 0.95, 0.95, 0.01, true)],
  ];
  for (const [name, makeOpt] of makers) {
    it(name, async () => {
      const model = makeModel(3);
      const opt = makeOpt();
      const rng = new Rng(11);
      trainSteps(model, opt, rng, 26); // at 26 steps pow(beta, t) differs from the running product

      // checkpoint: model + optimizer state, through files
      const dir = path.join(root, `opt-${name.replace(/\W+/g, '-')}`);
      await saveModelToDir(model, dir);
      const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
      await writeOptimizerState(dir, await saveOptimizerState(opt, varList));
      const rngState = rng.getState();

      // "new process": new model from the files, new optimizer, restored state
      const model2 = await loadModelFromDir(dir);
      const opt2 = makeOpt();
      const varList2 = model2.trainableWeights.map((w) => w.read() as tf.Variable);
      const state = await readOptimizerState(dir);
      expect(state.header.iterations).toBe(26);
      await restoreOptimizerState(opt2, varList2, state);
      expect(opt2.iterations).toBe(26);

      trainSteps(model, opt, rng, 5);
      trainSteps(model2, opt2, Rng.fromState(rngState), 5);
      const a = weightsOf(model);
      const b = weightsOf(model2);
      for (let i = 0; i < a.length; i++) expect(b[i]).toEqual(a[i]); // bit-identical
      expect(opt2.iterations).toBe(31);
      model.dispose();
      model2.dispose();
      opt.dispose();
      opt2.dispose();
    });
  }

  it("reads tfjs Adam's state into FusedAdam (runs saved before FusedAdam resume)", async () => {
    const model = makeModel(4);
    const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
    trainSteps(model, opt, new Rng(2), 4);
    const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const state = await saveOptimizerState(opt, varList);
    const fused = new FusedAdam(1e-3, 0.9, 0.999, 1e-8);
    await restoreOptimizerState(fused, varList, state);
    const back = await saveOptimizerState(fused, varList);
    expect(back.header.iterations).toBe(4);
    expect(back.data).toEqual(state.data); // m and v of every variable, in the same order
    fused.dispose();
    opt.dispose();
  });

  it('refuses a state of another optimizer class, config or variable layout', async () => {
    const model = makeModel(5);
    const opt = tf.train.adam(1e-3);
    trainSteps(model, opt, new Rng(1), 2);
    const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const state = await saveOptimizerState(opt, varList);
    await expect(restoreOptimizerState(tf.train.rmsprop(1e-3), varList, state)).rejects.toThrow(/for Adam/);
    await expect(restoreOptimizerState(tf.train.adam(5e-4), varList, state)).rejects.toThrow(/config/);
    await expect(restoreOptimizerState(tf.train.adam(1e-3), [...varList].reverse(), state)).rejects.toThrow(/shape/);
    await expect(restoreOptimizerState(tf.train.adam(1e-3), varList.slice(1), state)).rejects.toThrow(/variables/);
    await expect(saveOptimizerState(opt, varList.slice(0, 4))).rejects.toThrow(/another varList|shape/);
    await restoreOptimizerState(tf.train.adam(5e-4), varList, state, { ignoreConfig: true });
    // a fresh optimizer (no step yet) saves and restores too
    const fresh = await saveOptimizerState(tf.train.adam(1e-3), varList);
    expect(fresh.header.iterations).toBe(0);
    expect(fresh.header.weights).toEqual([]);
    await restoreOptimizerState(tf.train.adam(1e-3), varList, fresh);
  });
});

describe('everything together through saveCheckpoint / loadLatestGood', () => {
  it('model, optimizer, replay and rng resume exactly', async () => {
    const runDir = path.join(root, 'runs', 'resume');
    const model = makeModel(9);
    const opt = tf.train.adam(1e-3);
    const rng = new Rng(5);
    const replay = new FrameReplayBuffer({ capacity: 64, numEnvs: 2, frameShape: [4, 4], nStep: 2 });
    const O = 4 * 4 * 4;
    let obs = new Uint8Array(2 * O);
    for (let t = 0; t < 40; t++) {
      const next = obs.slice();
      for (let e = 0; e < 2; e++) {
        // shift the stack and add a new frame
        for (let p = 0; p < 16; p++) {
          for (let k = 0; k < 3; k++) next[e * O + p * 4 + k] = obs[e * O + p * 4 + k + 1];
          next[e * O + p * 4 + 3] = rng.int(256);
        }
      }
      replay.add(obs, new Int32Array([t % 3, 1]), new Float32Array([1, 0]), new Uint8Array(2), new Uint8Array(2), next);
      obs = next;
    }
    trainSteps(model, opt, rng, 3);
    const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
    await saveCheckpoint(runDir, 40, async (dir) => {
      await saveModelToDir(model, path.join(dir, 'online'));
      await writeOptimizerState(dir, await saveOptimizerState(opt, varList));
      await replay.save(dir);
      await import('node:fs/promises').then((fs) =>
        fs.writeFile(path.join(dir, 'rng.json'), JSON.stringify(rng.getState())),
      );
    });
    const { checkpoint, value } = await loadLatestGood(runDir, async (dir) => {
      const m = await loadModelFromDir(path.join(dir, 'online'));
      const o = tf.train.adam(1e-3);
      await restoreOptimizerState(
        o,
        m.trainableWeights.map((w) => w.read() as tf.Variable),
        await readOptimizerState(dir),
      );
      const r = Rng.fromState(JSON.parse(await readFile(path.join(dir, 'rng.json'), 'utf8')));
      return { m, o, r, replay: await FrameReplayBuffer.load(dir) };
    });
    expect(checkpoint?.step).toBe(40);
    const v = value!;
    expect(v.replay.sample(8, v.r)).toEqual(replay.sample(8, rng));
    trainSteps(model, opt, rng, 3);
    trainSteps(v.m, v.o, v.r, 3);
    expect(weightsOf(v.m)).toEqual(weightsOf(model));
  });
});
