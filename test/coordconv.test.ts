import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import {
  AddCoords,
  addCoords,
  CoordConv2D,
  coordConv2d,
  coordinateValues,
  scaledCoordinate,
} from '../src/layers/index.js';
import { tf } from '../src/tf.js';
import { buildTorsoModel } from '../src/torsos.js';

const ROOT = resolve(import.meta.dirname, '..');

beforeAll(async () => {
  await initBackend('auto');
});

function channel(t: tf.Tensor, c: number): number[][] {
  // t: [1, h, w, C] -> the c-th channel as nested rows
  const [, h, w] = t.shape;
  const v = t.arraySync() as number[][][][];
  return Array.from({ length: h as number }, (_, i) => Array.from({ length: w as number }, (_, j) => v[0][i][j][c]));
}

describe('AddCoords coordinates', () => {
  it('scales each axis exactly to [-1, 1], with 0 for a length-1 axis', () => {
    expect(scaledCoordinate(0, 5)).toBe(-1);
    expect(scaledCoordinate(4, 5)).toBe(1);
    expect(scaledCoordinate(2, 5)).toBe(0);
    expect(scaledCoordinate(0, 1)).toBe(0);
  });

  it('gives x = column and y = row on a square input', () => {
    const out = addCoords(tf.zeros([1, 3, 3, 1]));
    expect(out.shape).toEqual([1, 3, 3, 3]);
    expect(channel(out, 1)).toEqual([
      [-1, 0, 1],
      [-1, 0, 1],
      [-1, 0, 1],
    ]);
    expect(channel(out, 2)).toEqual([
      [-1, -1, -1],
      [0, 0, 0],
      [1, 1, 1],
    ]);
  });

  it('uses each axis length on a non-square input (3 rows x 5 columns)', () => {
    const out = addCoords(tf.zeros([1, 3, 5, 2]), true);
    expect(out.shape).toEqual([1, 3, 5, 5]);
    const x = channel(out, 2);
    const y = channel(out, 3);
    const r = channel(out, 4);
    for (const row of x) expect(row).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(y.map((row) => row[0])).toEqual([-1, 0, 1]);
    for (const row of y) expect(new Set(row).size).toBe(1);
    expect(r[1][2]).toBe(0); // centre
    expect(r[0][0]).toBeCloseTo(Math.SQRT2, 6);
    expect(r[1][1]).toBeCloseTo(0.5, 6);
    expect(r[0][3]).toBeCloseTo(Math.sqrt(0.25 + 1), 6);
    // the input channels are passed through untouched
    expect(
      channel(out, 0)
        .flat()
        .every((v) => v === 0),
    ).toBe(true);
  });

  it('handles 1-pixel axes (coordinate 0)', () => {
    const out = addCoords(tf.ones([1, 1, 4, 1]));
    expect(channel(out, 2)).toEqual([[0, 0, 0, 0]]);
    expect(channel(out, 1)).toEqual([[-1, -1 / 3, 1 / 3, 1].map((v) => Math.fround(v))]);
  });

  it('channels-first puts the same maps on axis 1', () => {
    const x = tf.randomNormal([2, 3, 4, 5]); // NCHW: c=3, h=4, w=5
    const first = addCoords(x, true, 'channelsFirst');
    expect(first.shape).toEqual([2, 6, 4, 5]);
    const last = addCoords(tf.transpose(x, [0, 2, 3, 1]), true, 'channelsLast');
    expect(tf.transpose(first, [0, 2, 3, 1]).arraySync()).toEqual(last.arraySync());
    expect(coordinateValues(4, 5, true, 'channelsFirst').length).toBe(60);
  });

  it('does not depend on the batch', () => {
    const out = addCoords(tf.randomNormal([4, 6, 7, 2]), true);
    const coords = out.slice([0, 0, 0, 2], [4, 6, 7, 3]);
    const first = coords.slice([0, 0, 0, 0], [1, 6, 7, 3]);
    expect(tf.sub(coords, first).abs().max().dataSync()[0]).toBe(0);
  });

  it('is a layer with output shape, config round trip and no weights', () => {
    const layer = new AddCoords({ withR: true, name: 'ac' });
    expect(layer.computeOutputShape([null, 10, 12, 4])).toEqual([null, 10, 12, 7]);
    const input = tf.input({ shape: [10, 12, 4] });
    const out = layer.apply(input) as tf.SymbolicTensor;
    expect(out.shape).toEqual([null, 10, 12, 7]);
    expect(layer.countParams()).toBe(0);
    const cfg = layer.getConfig();
    expect(cfg).toMatchObject({ withR: true, dataFormat: 'channelsLast', name: 'ac' });
    const copy = new AddCoords(cfg as ConstructorParameters<typeof AddCoords>[0]);
    expect(copy.withR).toBe(true);
    const cf = new AddCoords({ dataFormat: 'channelsFirst' });
    expect(cf.computeOutputShape([null, 3, 8, 9])).toEqual([null, 5, 8, 9]);
  });
});

describe('CoordConv2D', () => {
  it('has a kernel over the input plus coordinate channels and conv2d output shapes', () => {
    const layer = coordConv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', withR: true });
    const input = tf.input({ shape: [11, 13, 4] });
    const out = layer.apply(input) as tf.SymbolicTensor;
    expect(out.shape).toEqual([null, 5, 6, 16]);
    expect(layer.getWeights()[0].shape).toEqual([3, 3, 7, 16]);
    expect(layer.countParams()).toBe(3 * 3 * 7 * 16 + 16);
    const same = new CoordConv2D({ filters: 8, kernelSize: [3, 5], padding: 'same', dilationRate: 2 });
    expect((same.apply(tf.input({ shape: [9, 10, 1] })) as tf.SymbolicTensor).shape).toEqual([null, 9, 10, 8]);
    expect(same.getWeights()[0].shape).toEqual([3, 5, 3, 8]);
  });

  it('computes conv2d(addCoords(x)) + bias, with the activation', () => {
    const layer = new CoordConv2D({
      filters: 5,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      biasInitializer: 'randomNormal',
    });
    const x = tf.randomNormal([2, 6, 7, 3]);
    const y = layer.apply(x) as tf.Tensor;
    const [k, b] = layer.getWeights();
    const expected = tf.relu(tf.add(tf.conv2d(addCoords(x) as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b));
    expect(tf.sub(y, expected).abs().max().dataSync()[0]).toBeLessThan(1e-5);
  });

  it('channels-first gives the same result as channels-last', () => {
    const last = new CoordConv2D({ filters: 4, kernelSize: 3, withR: true });
    const first = new CoordConv2D({ filters: 4, kernelSize: 3, withR: true, dataFormat: 'channelsFirst' });
    const x = tf.randomNormal([2, 8, 9, 3]);
    const yl = last.apply(x) as tf.Tensor;
    first.apply(tf.transpose(x, [0, 3, 1, 2]));
    first.setWeights(last.getWeights());
    const yf = first.apply(tf.transpose(x, [0, 3, 1, 2])) as tf.Tensor;
    expect(yf.shape).toEqual([2, 4, 6, 7]);
    expect(
      tf
        .sub(tf.transpose(yf, [0, 2, 3, 1]), yl)
        .abs()
        .max()
        .dataSync()[0],
    ).toBeLessThan(1e-5);
  });

  it('passes gradients to the input and to the kernel, coordinate rows included', () => {
    const layer = new CoordConv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' });
    const x = tf.randomNormal([2, 5, 5, 2]);
    layer.apply(x);
    const gx = tf.grad((inp: tf.Tensor) => tf.sum(layer.apply(inp) as tf.Tensor))(x);
    expect(gx.shape).toEqual([2, 5, 5, 2]);
    expect(gx.abs().max().dataSync()[0]).toBeGreaterThan(0);

    const kernel = layer.trainableWeights[0].read() as tf.Variable;
    const bias = layer.trainableWeights[1].read() as tf.Variable;
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar,
      [kernel, bias],
    );
    const gk = grads[kernel.name];
    expect(gk.shape).toEqual([3, 3, 4, 3]);
    // the rows of the kernel that read the x and y channels learn too
    expect(gk.slice([0, 0, 2, 0], [3, 3, 2, 3]).abs().max().dataSync()[0]).toBeGreaterThan(0);
    expect(grads[bias.name].abs().max().dataSync()[0]).toBeGreaterThan(0);
  });

  it('round-trips its config, withR and all conv options included', () => {
    const layer = new CoordConv2D({
      filters: 6,
      kernelSize: [3, 2],
      strides: [2, 1],
      padding: 'same',
      activation: 'elu',
      useBias: false,
      kernelInitializer: tf.initializers.orthogonal({ gain: Math.SQRT2 }),
      kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }),
      dilationRate: 1,
      withR: true,
      name: 'cc',
    });
    const cfg = layer.getConfig();
    expect(cfg).toMatchObject({ filters: 6, withR: true, padding: 'same', useBias: false, name: 'cc' });
    const restored = tf.serialization.SerializationMap.getMap().classNameMap.CoordConv2D;
    expect(restored).toBeDefined();
    const snapshot = JSON.stringify(cfg); // fromConfig annotates the nested dicts in place
    const copy = CoordConv2D.fromConfig(CoordConv2D, cfg) as CoordConv2D;
    expect(JSON.parse(JSON.stringify(copy.getConfig()))).toEqual(JSON.parse(snapshot));
  });
});

describe('save and load', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'coordconv-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function testModel(): tf.LayersModel {
    const input = tf.input({ shape: [12, 10, 3] });
    let x = new AddCoords({ withR: true }).apply(input) as tf.SymbolicTensor;
    x = new CoordConv2D({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', withR: true }).apply(
      x,
    ) as tf.SymbolicTensor;
    x = tf.layers.permute({ dims: [3, 1, 2] }).apply(x) as tf.SymbolicTensor;
    x = new CoordConv2D({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', biasInitializer: 'ones' }).apply(
      x,
    ) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: x });
  }

  it('loads back in the same process with identical outputs', async () => {
    const model = testModel();
    const path = join(dir, 'same');
    await model.save(`file://${path}`);
    const loaded = await tf.loadLayersModel(`file://${path}/model.json`);
    const x = tf.randomNormal([3, 12, 10, 3]);
    expect((loaded.predict(x) as tf.Tensor).arraySync()).toEqual((model.predict(x) as tf.Tensor).arraySync());
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
  });

  // A fresh Node process, which must register the classes itself: the real test of serialization.
  // Vitest runs TypeScript; plain node cannot, so this compiles the needed sources with tsc into
  // .cache/ (git-ignored, inside the repo so that node_modules resolves) first.
  it('loads back in a fresh node process with identical outputs', async () => {
    const models = {
      layers: testModel(),
      torso: buildTorsoModel([84, 84, 4], { kind: 'coordconv', coordconvAt: 'all', withR: true }),
    };
    const inputs = { layers: tf.randomNormal([2, 12, 10, 3]), torso: tf.randomUniform([2, 84, 84, 4], 0, 255) };
    const expected: Record<string, number[]> = {};
    for (const [name, m] of Object.entries(models)) {
      await m.save(`file://${join(dir, name)}`);
      writeFileSync(
        join(dir, `${name}.input.json`),
        JSON.stringify({
          shape: inputs[name as 'layers'].shape,
          values: Array.from(inputs[name as 'layers'].dataSync()),
        }),
      );
      expected[name] = Array.from((m.predict(inputs[name as 'layers']) as tf.Tensor).dataSync());
    }

    const out = join(ROOT, '.cache', `coordconv-test-${process.pid}`);
    mkdirSync(out, { recursive: true });
    try {
      const tsc = spawnSync(
        process.execPath,
        [
          join(ROOT, 'node_modules/typescript/bin/tsc'),
          '--outDir',
          out,
          '--rootDir',
          join(ROOT, 'src'),
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2022',
          '--skipLibCheck',
          '--types',
          'node',
          join(ROOT, 'src/layers/index.ts'),
          join(ROOT, 'src/backend.ts'),
        ],
        { encoding: 'utf8' },
      );
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
      const script = join(out, 'load.mjs');
      writeFileSync(
        script,
        `import { readFileSync } from 'node:fs';
const withLayers = process.argv[2] === 'with-layers';
const { initBackend } = await import('./backend.js');
if (withLayers) await import('./layers/index.js');
const tf = await import('@tensorflow/tfjs');
await initBackend('auto');
const result = {};
for (const name of ['layers', 'torso']) {
  try {
    const m = await tf.loadLayersModel('file://${dir}/' + name + '/model.json');
    const inp = JSON.parse(readFileSync('${dir}/' + name + '.input.json', 'utf8'));
    result[name] = Array.from(m.predict(tf.tensor(inp.values, inp.shape)).dataSync());
  } catch (e) { result[name] = String(e.message).split('\\n')[0]; }
}
process.stdout.write(JSON.stringify(result));
`,
      );
      const run = (arg: string) => {
        const r = spawnSync(process.execPath, [script, arg], {
          encoding: 'utf8',
          env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
        });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Record<string, number[] | string>;
      };
      const got = run('with-layers');
      for (const name of ['layers', 'torso']) {
        const g = got[name];
        expect(Array.isArray(g), String(g)).toBe(true);
        expect(g).toHaveLength(expected[name].length);
        const maxDiff = Math.max(...(g as number[]).map((v, i) => Math.abs(v - expected[name][i])));
        expect(maxDiff).toBeLessThan(1e-5);
      }
      // Without importing the layers module the classes are unknown: registration is what makes loading work.
      const without = run('without-layers');
      expect(String(without.layers)).toMatch(/Unknown layer|AddCoords|CoordConv2D/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
