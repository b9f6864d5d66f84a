// The "Not-so-Clevr" data of Liu et al. (2018), for the supervised coordinate tasks.
//
// A 9x9 square on a 64x64 canvas can be centred at 4..59 on each axis: 56 x 56 = 3,136 centres.
// The supervised coordinate tasks use the centre pixel only: coordinates (x, y) <-> a 64x64
// one-hot image of that pixel. x is the column, y the row.
//
// Splits (of the centres):
// - uniform:  a random 20% of the centres held out as the test set (seeded);
// - quadrant: the centres with x and y both in the bottom-right quadrant (x >= 32 and y >= 32)
//             held out, 28 x 28 = 784 test centres; the network never sees that region.
import { tf } from '../tf.js';

export const CANVAS = 64;
export const SQUARE = 9;
export const MIN_CENTRE = (SQUARE - 1) / 2; // 4
export const MAX_CENTRE = CANVAS - 1 - MIN_CENTRE; // 59
export const UNIFORM_TEST_FRACTION = 0.2;

export type ToySplit = 'uniform' | 'quadrant';
export const TOY_SPLITS: readonly ToySplit[] = ['uniform', 'quadrant'];

export interface Centre {
  /** column */
  x: number;
  /** row */
  y: number;
}

export interface SplitCentres {
  train: Centre[];
  test: Centre[];
}

/** All 3,136 valid centres, row-major (y, then x). */
export function allCentres(): Centre[] {
  const out: Centre[] = [];
  for (let y = MIN_CENTRE; y <= MAX_CENTRE; y++) for (let x = MIN_CENTRE; x <= MAX_CENTRE; x++) out.push({ x, y });
  return out;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place with the given PRNG. */
export function shuffleInPlace<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export function isInHeldOutQuadrant(c: Centre): boolean {
  return c.x >= CANVAS / 2 && c.y >= CANVAS / 2;
}

/** Splits the centres; `seed` only matters for the uniform split. */
export function splitCentres(split: ToySplit, seed = 0): SplitCentres {
  const centres = allCentres();
  if (split === 'quadrant') {
    return { train: centres.filter((c) => !isInHeldOutQuadrant(c)), test: centres.filter(isInHeldOutQuadrant) };
  }
  if (split !== 'uniform') throw new Error(`unknown split '${String(split)}' (expected uniform or quadrant)`);
  const order = shuffleInPlace(
    centres.map((_, i) => i),
    seededRandom(seed),
  );
  const nTest = Math.round(centres.length * UNIFORM_TEST_FRACTION);
  const testIdx = new Set(order.slice(0, nTest));
  return {
    train: centres.filter((_, i) => !testIdx.has(i)),
    test: centres.filter((_, i) => testIdx.has(i)),
  };
}

/** A pixel coordinate 0..63 scaled to [-1, 1] exactly as AddCoords scales the 64-pixel axes. */
export function scalePixel(p: number): number {
  return (2 * p) / (CANVAS - 1) - 1;
}

/** The inverse of scalePixel, rounded to the nearest pixel. */
export function unscaleToPixel(v: number): number {
  return Math.round(((v + 1) * (CANVAS - 1)) / 2);
}

/** Flat index of the centre pixel in a row-major 64x64 image. */
export function pixelIndex(c: Centre): number {
  return c.y * CANVAS + c.x;
}

/** `[n, 2]` float32: (x, y) scaled to [-1, 1]. */
export function coordinateTensor(centres: Centre[]): tf.Tensor2D {
  const v = new Float32Array(centres.length * 2);
  centres.forEach((c, i) => {
    v[2 * i] = scalePixel(c.x);
    v[2 * i + 1] = scalePixel(c.y);
  });
  return tf.tensor2d(v, [centres.length, 2]);
}

/** `[n, 64, 64, 1]` float32 one-hot images of the centre pixels. */
export function oneHotImages(centres: Centre[]): tf.Tensor4D {
  const v = new Float32Array(centres.length * CANVAS * CANVAS);
  centres.forEach((c, i) => {
    v[i * CANVAS * CANVAS + pixelIndex(c)] = 1;
  });
  return tf.tensor4d(v, [centres.length, CANVAS, CANVAS, 1]);
}

/** `[n]` int32: the flat pixel index of each centre (the classification label). */
export function pixelLabels(centres: Centre[]): tf.Tensor1D {
  return tf.tensor1d(centres.map(pixelIndex), 'int32');
}

/** `[n, 64, 64, 1]` float32 images of the full 9x9 squares (for rendering-style experiments). */
export function squareImages(centres: Centre[]): tf.Tensor4D {
  const v = new Float32Array(centres.length * CANVAS * CANVAS);
  const h = MIN_CENTRE;
  centres.forEach((c, i) => {
    for (let y = c.y - h; y <= c.y + h; y++)
      for (let x = c.x - h; x <= c.x + h; x++) v[i * CANVAS * CANVAS + y * CANVAS + x] = 1;
  });
  return tf.tensor4d(v, [centres.length, CANVAS, CANVAS, 1]);
}
