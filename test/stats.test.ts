import { describe, expect, it } from 'vitest';
import {
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  differenceCI,
  iqm,
  mean,
  median,
  performanceProfile,
  probabilityOfImprovement,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from '../src/stats/aggregate.js';
import { atariKey, humanNormalized, referenceScores } from '../src/stats/atari-scores.js';

describe('point estimates', () => {
  it('IQM is scipy.stats.trim_mean(x, 0.25): floor(n/4) values cut at each end', () => {
    expect(iqm([1, 2, 3, 4, 5, 6, 7, 8])).toBeCloseTo(4.5, 12);
    expect(iqm([8, 1, 7, 2, 6, 3, 5, 4])).toBeCloseTo(4.5, 12); // order does not matter
    expect(iqm([0, 0, 10, 10, 10, 10, 100, 1000])).toBeCloseTo(10, 12); // outliers ignored
    // n = 5: one value cut at each end (the old fractional weights gave 4.6; rliable 14/3)
    expect(iqm([0, 1, 4, 9, 16])).toBeCloseTo(14 / 3, 12);
    expect(iqm([1, 2, 3, 4, 5, 6, 7])).toBeCloseTo(4, 12);
    expect(iqm([1, 2, 3])).toBeCloseTo(2, 12); // n < 4: nothing cut
    expect(iqm([1, 1, 1, 1, 1, 100])).toBeCloseTo(1, 12);
  });

  it('aggregates as rliable: IQM over all runs, mean and median of the per-task means', () => {
    // Unequal runs: the task with 3 runs does not weigh 3 times (mean over runs would be 0.75).
    expect(aggregateMean([[0], [1, 1, 1]])).toBeCloseTo(0.5, 12);
    expect(aggregateMedian([[0, 2], [10], [3, 5]])).toBeCloseTo(4, 12); // median of 1, 10, 4
    expect(
      aggregateIqm([
        [0, 1],
        [4, 9, 16],
      ]),
    ).toBeCloseTo(14 / 3, 12);
  });

  it('mean and median', () => {
    expect(mean([1, 2, 3, 10])).toBe(4);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 2, 3, 4])).toBe(2.5);
  });
});

describe('probability of improvement', () => {
  it('counts ties as one half and averages over tasks', () => {
    expect(probabilityOfImprovement([[1, 2]], [[2, 3]])).toBeCloseTo(0.875, 12);
    expect(probabilityOfImprovement([[0], [5]], [[1], [5]])).toBeCloseTo(0.75, 12);
    expect(probabilityOfImprovement([[1, 2, 3]], [[1, 2, 3]])).toBeCloseTo(0.5, 12);
  });

  it('equals the pairwise count bit for bit (ties, unequal runs, several tasks)', () => {
    const brute = (x: number[][], y: number[][]) =>
      x.reduce((t, xs, k) => {
        let s = 0;
        for (const a of xs) for (const b of y[k]) s += b > a ? 1 : b === a ? 0.5 : 0;
        return t + s / (xs.length * y[k].length);
      }, 0) / x.length;
    let state = 12345;
    const draw = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % 7; // few values: many ties
    };
    for (let trial = 0; trial < 50; trial++) {
      const tasks = 1 + (trial % 4);
      const x = Array.from({ length: tasks }, (_, k) => Array.from({ length: 1 + ((trial + k) % 9) }, draw));
      const y = Array.from({ length: tasks }, (_, k) => Array.from({ length: 1 + ((trial * 3 + k) % 11) }, draw));
      expect(probabilityOfImprovement(x, y)).toBe(brute(x, y));
    }
  });

  it('has a CI that contains the estimate and is degenerate when arms never overlap', () => {
    const ci = probabilityOfImprovementCI([[1, 2, 3]], [[4, 5, 6]], { seed: 3, reps: 500 });
    expect(ci).toEqual({ estimate: 1, lo: 1, hi: 1 });
    const mixed = probabilityOfImprovementCI([[1, 3, 5, 7]], [[2, 4, 6, 8]], { seed: 3, reps: 500 });
    expect(mixed.lo).toBeLessThanOrEqual(mixed.estimate);
    expect(mixed.hi).toBeGreaterThanOrEqual(mixed.estimate);
    expect(mixed.hi).toBeGreaterThan(mixed.lo);
  });
});

describe('stratified bootstrap', () => {
  it('is deterministic for a seed and degenerate for constant scores', () => {
    const scores = [
      [1, 2, 3, 4],
      [10, 11, 12, 13],
    ];
    const a = stratifiedBootstrapCI(scores, aggregateIqm, { seed: 7, reps: 300 });
    const b = stratifiedBootstrapCI(scores, aggregateIqm, { seed: 7, reps: 300 });
    expect(a).toEqual(b);
    expect(a.lo).toBeLessThanOrEqual(a.estimate);
    expect(a.hi).toBeGreaterThanOrEqual(a.estimate);
    expect(stratifiedBootstrapCI([[2, 2, 2]], aggregateMean, { reps: 100 })).toEqual({ estimate: 2, lo: 2, hi: 2 });
  });

  it('resamples within tasks: a task never borrows another task’s runs', () => {
    // Every resample keeps 3 runs of task A (all 0) and 1 run of task B (100): the IQM is always 0.
    expect(stratifiedBootstrapCI([[0, 0, 0], [100]], aggregateIqm, { reps: 200 })).toEqual({
      estimate: 0,
      lo: 0,
      hi: 0,
    });
    expect(stratifiedBootstrapCI([[0, 0, 0], [100]], aggregateMean, { reps: 200 })).toEqual({
      estimate: 50,
      lo: 50,
      hi: 50,
    });
  });

  it('difference CI covers zero for identical arms and excludes it for a clear gap', () => {
    const a = [
      [1, 2, 3, 4, 5],
      [2, 3, 4, 5, 6],
    ];
    const same = differenceCI(a, a, aggregateIqm, { seed: 1, reps: 500 });
    expect(same.estimate).toBe(0);
    expect(same.lo).toBeLessThanOrEqual(0);
    expect(same.hi).toBeGreaterThanOrEqual(0);
    const better = a.map((t) => t.map((v) => v + 100));
    expect(differenceCI(a, better, aggregateIqm, { seed: 1, reps: 500 }).lo).toBeGreaterThan(90);
  });

  it('rejects empty tasks and non-finite scores with a clear message', () => {
    expect(() => stratifiedBootstrapCI([[]], aggregateMean)).toThrow(/no runs/);
    expect(() => stratifiedBootstrapCI([[1, Number.NaN]], aggregateMean)).toThrow(/non-finite/);
  });
});

describe('performance profiles', () => {
  it('gives the fraction of runs above each threshold', () => {
    expect(
      performanceProfile(
        [
          [0, 1],
          [2, 3],
        ],
        [-1, 0.5, 2, 3],
      ),
    ).toEqual([1, 0.75, 0.25, 0]);
  });
});

describe('human-normalised Atari scores', () => {
  it('maps the usual spellings to one game', () => {
    for (const name of ['pong', 'Pong', 'ALE/Pong-v5', 'PongNoFrameskip-v4']) expect(atariKey(name)).toBe('pong');
    for (const name of ['MsPacman', 'ms_pacman', 'ALE/MsPacman-v5', 'mspacman'])
      expect(atariKey(name)).toBe('ms_pacman');
  });

  it('is 0 at the random score and 1 at the human score', () => {
    expect(humanNormalized('pong', -20.7)).toBeCloseTo(0, 12);
    expect(humanNormalized('ALE/Pong-v5', 14.6)).toBeCloseTo(1, 12);
    expect(humanNormalized('breakout', 30.5)).toBeCloseTo(1, 12);
    expect(referenceScores('CartPole-v1')).toBeNull();
    expect(humanNormalized('CartPole-v1', 200)).toBeNull();
  });
});
