// Model checkpoints on the pure-JS backend, where tfjs-node (and its file:// handler) is not loaded.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { loadModelFromDir, saveModelToDir } from '../src/checkpoint/index.js';
import { tf } from '../src/tf.js';

let root: string;
beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(path.join(os.tmpdir(), 'ckpt-purejs-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

it('saves and loads a model without any file:// handler', async () => {
  expect(tf.getBackend()).toBe('cpu');
  expect(tf.io.getSaveHandlers(`file://${root}/m`)).toEqual([]);
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [5], units: 4, activation: 'tanh' }), tf.layers.dense({ units: 2 })],
  });
  await saveModelToDir(model, path.join(root, 'm'));
  const loaded = await loadModelFromDir(path.join(root, 'm'));
  const x = tf.randomNormal([3, 5], 0, 1, 'float32', 1);
  expect((loaded.predict(x) as tf.Tensor).dataSync()).toEqual((model.predict(x) as tf.Tensor).dataSync());
});
