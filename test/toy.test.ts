import { Command } from 'commander';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend.js';
import { registerToy } from '../src/commands/toy.js';
import { tf } from '../src/tf.js';
import {
  allCentres,
  buildToyModel,
  CANVAS,
  coordinateTensor,
  oneHotImages,
  pixelLabels,
  runToy,
  scalePixel,
  splitCentres,
  toyInputs,
  toyLoss,
  toyTargets,
  trainToyModel,
  unscaleToPixel,
} from '../src/toy/index.js';
import { UsageError } from '../src/util/cli-errors.js';

beforeAll(async () => {
  await initBackend('auto');
});

const key = (c: { x: number; y: number }) => `${c.x},${c.y}`;

describe('Not-so-Clevr centres and splits', () => {
  it('has 56 x 56 = 3,136 centres at 4..59', () => {
    const all = allCentres();
    expect(all).toHaveLength(3136);
    expect(new Set(all.map(key)).size).toBe(3136);
    expect(Math.min(...all.map((c) => c.x))).toBe(4);
    expect(Math.max(...all.map((c) => c.y))).toBe(59);
  });

  it('uniform split: a seeded random 20% held out', () => {
    const { train, test } = splitCentres('uniform', 0);
    expect(test).toHaveLength(627);
    expect(train).toHaveLength(2509);
    const testKeys = new Set(test.map(key));
    expect(train.some((c) => testKeys.has(key(c)))).toBe(false);
    expect(new Set([...train, ...test].map(key)).size).toBe(3136);
    // spread over the whole canvas, not one region
    expect(test.filter((c) => c.x >= 32 && c.y >= 32).length).toBeGreaterThan(100);
    expect(splitCentres('uniform', 0).test.map(key)).toEqual(test.map(key));
    expect(splitCentres('uniform', 1).test.map(key)).not.toEqual(test.map(key));
  });

  it('quadrant split: the bottom-right quadrant (x, y >= 32) held out', () => {
    const { train, test } = splitCentres('quadrant');
    expect(test).toHaveLength(28 * 28);
    expect(train).toHaveLength(3136 - 784);
    expect(test.every((c) => c.x >= 32 && c.y >= 32)).toBe(true);
    expect(train.every((c) => c.x < 32 || c.y < 32)).toBe(true);
  });

  it('rejects unknown splits', () => {
    expect(() => splitCentres('diagonal' as never)).toThrow(/unknown split/);
  });
});

describe('inputs and targets', () => {
  it('one-hot images light exactly the centre pixel', () => {
    const centres = [
      { x: 4, y: 59 },
      { x: 33, y: 7 },
    ];
    const imgs = oneHotImages(centres);
    expect(imgs.shape).toEqual([2, 64, 64, 1]);
    expect(Array.from(tf.sum(imgs, [1, 2, 3]).dataSync())).toEqual([1, 1]);
    const v = imgs.arraySync() as number[][][][];
    expect(v[0][59][4][0]).toBe(1);
    expect(v[1][7][33][0]).toBe(1);
    expect(Array.from(pixelLabels(centres).dataSync())).toEqual([59 * 64 + 4, 7 * 64 + 33]);
    // the classification label is the argmax of the flattened one-hot image
    expect(Array.from(tf.argMax(tf.reshape(imgs, [2, CANVAS * CANVAS]), 1).dataSync())).toEqual([
      59 * 64 + 4,
      7 * 64 + 33,
    ]);
  });

  it('coordinates are scaled like AddCoords and round back to the pixel', () => {
    expect(scalePixel(0)).toBe(-1);
    expect(scalePixel(63)).toBe(1);
    for (let p = 0; p < 64; p++) expect(unscaleToPixel(scalePixel(p))).toBe(p);
    const t = coordinateTensor([{ x: 63, y: 0 }]);
    expect(Array.from(t.dataSync())).toEqual([1, -1]);
    expect(toyInputs('classification', allCentres()).shape).toEqual([3136, 2]);
    expect(toyTargets('regression', allCentres().slice(0, 5)).shape).toEqual([5, 2]);
  });
});

describe('models', () => {
  it('CoordConv models are small, the conv baselines 10-100x bigger', () => {
    const size = (t: 'classification' | 'regression', a: 'coordconv' | 'conv') => buildToyModel(t, a).countParams();
    const cls = size('classification', 'coordconv');
    const reg = size('regression', 'coordconv');
    expect(cls).toBe(7553);
    expect(reg).toBe(906);
    expect(size('classification', 'conv') / cls).toBeGreaterThan(10);
    expect(size('regression', 'conv') / reg).toBeGreaterThan(10);
  });

  it('output shapes: 4,096 logits or (x, y)', () => {
    const c = buildToyModel('classification', 'coordconv');
    expect((c.predict(coordinateTensor(allCentres().slice(0, 3))) as tf.Tensor).shape).toEqual([3, 4096]);
    const d = buildToyModel('classification', 'conv');
    expect((d.predict(coordinateTensor(allCentres().slice(0, 3))) as tf.Tensor).shape).toEqual([3, 4096]);
    const r = buildToyModel('regression', 'coordconv');
    expect((r.predict(oneHotImages(allCentres().slice(0, 3))) as tf.Tensor).shape).toEqual([3, 2]);
  });

  it('the same seed gives the same initial weights', () => {
    const a = buildToyModel('regression', 'coordconv', 3).getWeights();
    const b = buildToyModel('regression', 'coordconv', 3).getWeights();
    const c = buildToyModel('regression', 'coordconv', 4).getWeights();
    expect(a.map((w) => Array.from(w.dataSync()))).toEqual(b.map((w) => Array.from(w.dataSync())));
    expect(Array.from(a[0].dataSync())).not.toEqual(Array.from(c[0].dataSync()));
  });
});

describe('training', () => {
  for (const task of ['classification', 'regression'] as const) {
    it(`CoordConv ${task}: a few epochs on a subset reduce the loss`, () => {
      const subset = splitCentres('uniform', 0).train.filter((_, i) => i % 8 === 0); // 314 examples
      const model = buildToyModel(task, 'coordconv', 0);
      const lossOn = () =>
        tf.tidy(
          () =>
            toyLoss(task, model.predict(toyInputs(task, subset)) as tf.Tensor, toyTargets(task, subset)).dataSync()[0],
        );
      const before = lossOn();
      const losses = trainToyModel(model, task, subset, {
        epochs: 3,
        seed: 0,
        batchSize: 32,
        learningRate: 3e-3,
      });
      expect(losses).toHaveLength(3);
      expect(losses.every(Number.isFinite)).toBe(true);
      // classification starts at ln(4096) = 8.3
      expect(lossOn()).toBeLessThan(0.7 * before);
    });
  }

  it('runToy reports what the CLI prints', async () => {
    const r = await runToy({ task: 'regression', split: 'quadrant', arch: 'coordconv', epochs: 1 });
    expect(r).toMatchObject({
      task: 'regression',
      split: 'quadrant',
      arch: 'coordconv',
      params: 906,
      epochs: 1,
      trainSize: 2352,
      testSize: 784,
    });
    for (const a of [r.trainAccuracy, r.testAccuracy]) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThanOrEqual(1);
    }
    expect(r.seconds).toBeGreaterThan(0);
  });
});

describe('coordrl toy', () => {
  const program = () => {
    const p = new Command('coordrl').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerToy(p);
    for (const c of p.commands) c.exitOverride();
    return p;
  };
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    [['toy', 'segmentation']],
    [['toy', 'regression', '--split', 'diagonal']],
    [['toy', 'regression', '--arch', 'resnet']],
    [['toy', 'regression', '--backend', 'tpu']],
    [['toy', 'regression', '--epochs', '0']],
    [['toy', 'regression', '--lr', '-1']],
  ])('%j is a usage error', async (args) => {
    await expect(program().parseAsync(args, { from: 'user' })).rejects.toBeInstanceOf(UsageError);
  });

  it('documents the task, split and arch in --help', () => {
    const help = program().commands[0].helpInformation();
    for (const word of ['classification', 'regression', '--split', 'quadrant', '--arch', 'coordconv', '--json']) {
      expect(help).toContain(word);
    }
  });

  it('prints one JSON result with --json', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    await program().parseAsync(
      ['toy', 'regression', '--split', 'uniform', '--arch', 'coordconv', '--epochs', '1', '--json', '--quiet'],
      { from: 'user' },
    );
    const r = JSON.parse(out.join(''));
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining(['task', 'split', 'arch', 'params', 'trainAccuracy', 'testAccuracy', 'seconds', 'epochs']),
    );
    expect(r).toMatchObject({ task: 'regression', split: 'uniform', arch: 'coordconv', params: 906, epochs: 1 });
  });
});
