import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { CoordConv2D } from '../src/layers/index.js';
import { tf } from '../src/tf.js';
import { applyTorso, autoArch, buildTorsoModel, countParams, describeTorso, type TorsoOptions } from '../src/torsos.js';

beforeAll(async () => {
  await initBackend('auto');
});

// Nature-DQN on 84x84x4: 8x8x4x32+32, 4x4x32x64+64, 3x3x64x64+64, (7*7*64)x512+512
const NATURE_PARAMS = 8224 + 32832 + 36928 + 1606144;

describe('conv torso (Nature DQN)', () => {
  it('maps 84x84x4 to 512 features with the expected parameter count', () => {
    const m = buildTorsoModel([84, 84, 4], { kind: 'conv' });
    expect(m.outputs[0].shape).toEqual([null, 512]);
    expect(countParams(m)).toBe(NATURE_PARAMS);
    const convShapes = m.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.outputShape);
    expect(convShapes).toEqual([
      [null, 20, 20, 32],
      [null, 9, 9, 64],
      [null, 7, 7, 64],
    ]);
    const y = m.predict(tf.randomUniform([3, 84, 84, 4], 0, 255)) as tf.Tensor;
    expect(y.shape).toEqual([3, 512]);
    expect(y.min().dataSync()[0]).toBeGreaterThanOrEqual(0); // relu features
  });

  it('scales raw 0..255 pixels by 1/255 inside the model', () => {
    const m = buildTorsoModel([84, 84, 4], { kind: 'conv' }, 'a');
    const scaled = buildTorsoModel([84, 84, 4], { kind: 'conv', scaleInput: false }, 'b');
    scaled.setWeights(m.getWeights());
    const x = tf.randomUniform([2, 84, 84, 4], 0, 255).floor();
    const d = tf.sub(m.predict(x) as tf.Tensor, scaled.predict(tf.div(x, 255)) as tf.Tensor);
    expect(d.abs().max().dataSync()[0]).toBeLessThan(1e-4);
    expect(m.layers[1].getClassName()).toBe('Rescaling');
  });
});

describe('coordconv torso', () => {
  it('replaces the first convolution: +2*8*8*32 weights (+3*8*8*32 with r)', () => {
    const m = buildTorsoModel([84, 84, 4], { kind: 'coordconv' });
    expect(countParams(m)).toBe(NATURE_PARAMS + 2 * 8 * 8 * 32);
    expect(m.outputs[0].shape).toEqual([null, 512]);
    expect(m.layers.filter((l) => l instanceof CoordConv2D)).toHaveLength(1);
    const r = buildTorsoModel([84, 84, 4], { kind: 'coordconv', withR: true });
    expect(countParams(r)).toBe(NATURE_PARAMS + 3 * 8 * 8 * 32);
  });

  it("coordconvAt 'all' uses CoordConv for all three convolutions", () => {
    const m = buildTorsoModel([84, 84, 4], { kind: 'coordconv', coordconvAt: 'all' });
    expect(m.layers.filter((l) => l instanceof CoordConv2D)).toHaveLength(3);
    expect(countParams(m)).toBe(NATURE_PARAMS + 2 * (8 * 8 * 32 + 4 * 4 * 64 + 3 * 3 * 64));
    expect((m.predict(tf.zeros([1, 84, 84, 4])) as tf.Tensor).shape).toEqual([1, 512]);
  });

  it('composes with a head through the functional API and trains end to end', () => {
    const input = tf.input({ shape: [84, 84, 4] });
    const features = applyTorso(input, { kind: 'coordconv' }, 'pi');
    const logits = tf.layers.dense({ units: 6, name: 'pi_head' }).apply(features) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: logits });
    expect(model.layers.map((l) => l.name)).toContain('pi_coordconv1');
    const x = tf.randomUniform([2, 84, 84, 4], 0, 255);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar, vars);
    const first = grads[vars[0].name];
    expect(first.shape).toEqual([8, 8, 6, 32]);
    expect(first.abs().max().dataSync()[0]).toBeGreaterThan(0);
  });

  // 36x36 input keeps the dense layer small: tfjs's orthogonal initializer runs a QR in JS and
  // takes about 10 s for the 3136x512 matrix of an 84x84 input.
  it('accepts an orthogonal initializer (gain sqrt 2), or a per-layer factory', () => {
    const used: number[] = [];
    const opts: TorsoOptions = {
      kind: 'coordconv',
      kernelInitializer: (i) => {
        used.push(i);
        return tf.initializers.orthogonal({ gain: Math.SQRT2, seed: 10 + i });
      },
    };
    const m = buildTorsoModel([36, 36, 4], opts);
    expect(used).toEqual([0, 1, 2, 3]);
    const cfg = m.getLayer('torso_coordconv1').getConfig() as { kernelInitializer: { className: string } };
    expect(cfg.kernelInitializer.className).toBe('Orthogonal');
    const fixed = buildTorsoModel([36, 36, 4], {
      kind: 'conv',
      kernelInitializer: tf.initializers.orthogonal({ gain: Math.SQRT2 }),
    });
    expect(fixed.outputs[0].shape).toEqual([null, 512]);
    // an orthogonal 64x512 kernel with gain sqrt(2): W W^T = 2 I
    const w = fixed.getLayer('torso_fc1').getWeights()[0] as tf.Tensor2D;
    const wwt = tf.matMul(w, w, false, true);
    expect(
      tf
        .sub(wwt, tf.mul(tf.eye(64), 2))
        .abs()
        .max()
        .dataSync()[0],
    ).toBeLessThan(1e-4);
  });
});

// MinAtar network on 10x10x4 (breakout): 3x3x4x16+16, then (8*8*16)x128+128.
const MINATAR_PARAMS = 3 * 3 * 4 * 16 + 16 + 8 * 8 * 16 * 128 + 128;

describe('MinAtar torso (Young & Tian 2019) and its CoordConv twin', () => {
  it('maps 10x10xC grids to 128 features: one 16@3x3/1 convolution, no input scaling', () => {
    const m = buildTorsoModel([10, 10, 4], { kind: 'conv', arch: 'minatar' });
    expect(countParams(m)).toBe(MINATAR_PARAMS);
    expect(m.outputs[0].shape).toEqual([null, 128]);
    expect(m.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.outputShape)).toEqual([[null, 8, 8, 16]]);
    expect(m.layers.some((l) => l.getClassName() === 'Rescaling')).toBe(false);
  });

  it('coordconv adds the coordinate channels before that convolution (+r with withR), nothing else', () => {
    const c = buildTorsoModel([10, 10, 4], { kind: 'coordconv', arch: 'minatar' });
    expect(countParams(c)).toBe(MINATAR_PARAMS + 2 * 3 * 3 * 16);
    expect(c.layers.filter((l) => l instanceof CoordConv2D)).toHaveLength(1);
    const r = buildTorsoModel([10, 10, 4], { kind: 'coordconv', arch: 'minatar', withR: true });
    expect(countParams(r)).toBe(MINATAR_PARAMS + 3 * 3 * 3 * 16);
    expect((r.predict(tf.ones([2, 10, 10, 4])) as tf.Tensor).shape).toEqual([2, 128]);
  });

  it('is chosen for small images; the Nature CNN refuses them with a hint', () => {
    expect(autoArch([10, 10, 4])).toBe('minatar');
    expect(autoArch([84, 84, 4])).toBe('nature');
    expect(() => buildTorsoModel([10, 10, 4], { kind: 'conv' })).toThrow(/at least 36x36.*minatar/);
  });

  it('saves and loads with tf.loadLayersModel (CoordConv registered)', async () => {
    const m = buildTorsoModel([10, 10, 6], { kind: 'coordconv', arch: 'minatar', withR: true });
    const dir = mkdtempSync(path.join(tmpdir(), 'coordrl-minatar-torso-'));
    try {
      await m.save(`file://${dir}`);
      const back = await tf.loadLayersModel(`file://${dir}/model.json`);
      const x = tf.randomUniform([3, 10, 10, 6]).round();
      const d = tf
        .sub(m.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor)
        .abs()
        .max();
      expect(d.dataSync()[0]).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mlp torso', () => {
  it('defaults to two 64-unit tanh layers', () => {
    const m = buildTorsoModel([4], { kind: 'mlp' });
    expect(m.outputs[0].shape).toEqual([null, 64]);
    expect(countParams(m)).toBe(4 * 64 + 64 + 64 * 64 + 64);
    const y = m.predict(tf.randomNormal([5, 4])) as tf.Tensor;
    expect(y.abs().max().dataSync()[0]).toBeLessThanOrEqual(1);
    const big = buildTorsoModel([8], { kind: 'mlp', hidden: [128, 32], activation: 'relu' });
    expect(big.outputs[0].shape).toEqual([null, 32]);
  });
});

describe('options and descriptions', () => {
  it('rejects bad options and image torsos on vector input', () => {
    expect(() => buildTorsoModel([84, 84, 4], { kind: 'resnet' as never })).toThrow(/unknown torso kind/);
    expect(() => buildTorsoModel([84, 84, 4], { kind: 'coordconv', coordconvAt: 'last' as never })).toThrow(
      /coordconvAt/,
    );
    expect(() => buildTorsoModel([4], { kind: 'conv' })).toThrow(/image input/);
    expect(() => buildTorsoModel([4], { kind: 'mlp', hidden: [0] })).toThrow(/positive/);
  });

  it('describes each torso in one line', () => {
    expect(describeTorso({ kind: 'conv' })).toBe(
      'conv (Nature DQN): 32@8x8/4-64@4x4/2-64@3x3/1 relu -> fc512 relu, input /255',
    );
    expect(describeTorso({ kind: 'coordconv', withR: true })).toBe(
      'coordconv(first, +r) Nature DQN: CC32@8x8/4-64@4x4/2-64@3x3/1 relu -> fc512 relu, input /255',
    );
    expect(describeTorso({ kind: 'conv', arch: 'minatar' })).toBe('conv (MinAtar): 16@3x3/1 relu -> fc128 relu');
    expect(describeTorso({ kind: 'coordconv', arch: 'minatar' })).toBe(
      'coordconv(first) MinAtar: CC16@3x3/1 relu -> fc128 relu',
    );
    expect(describeTorso({ kind: 'mlp' })).toBe('mlp: fc64-fc64 tanh');
  });
});
