import { describe, expect, it } from 'vitest';
import { decide, MIN_RUNS_FOR_VERDICT, significance } from '../src/stats/decision.js';
import {
  analyticPower,
  analyticSeeds,
  detectableEffect,
  seedsNeeded,
  shiftToEffect,
  simulatedPower,
  welchTTest,
} from '../src/stats/power.js';
import { Rng } from '../src/util/rng.js';

/** n draws of N(mu, sigma) (Box-Muller on the seeded generator). */
function gaussian(rng: Rng, n: number, mu = 0, sigma = 1): number[] {
  return Array.from({ length: n }, () => {
    const u = 1 - rng.next();
    const v = rng.next();
    return mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
}

describe('analytic power (Colas et al. 2018)', () => {
  it('gives the published seeds per arm for one-sided alpha 0.05, power 0.8', () => {
    // Colas et al.: 51 / 21 / 14 / 7 / 5; the noncentral t with 2n-2 degrees of freedom gives 4 at
    // d = 2 (power 0.80 exactly there), Welch's estimated degrees of freedom one more.
    expect([0.5, 0.8, 1, 1.5, 2].map((d) => analyticSeeds(d))).toEqual([51, 21, 14, 7, 4]);
    expect([0.5, 0.8, 1].map((d) => analyticSeeds(d, { sided: 'two-sided' }))).toEqual([64, 26, 17]);
  });

  it('is alpha at no effect and rises with n', () => {
    expect(analyticPower(1e-12, 10)).toBeCloseTo(0.05, 6);
    const p = [3, 5, 10, 20].map((n) => analyticPower(0.8, n));
    for (let i = 1; i < p.length; i++) expect(p[i]).toBeGreaterThan(p[i - 1]);
  });
});

describe("Welch's t-test", () => {
  it('gives t and the Welch-Satterthwaite degrees of freedom of a worked example', () => {
    // Means 20 and 22.5, sample variances 0.5 and 4 (worked by hand).
    const x = [19, 20, 21, 20, 20];
    const y = [20, 24, 22, 25, 21.5];
    const w = welchTTest(x, y);
    const vx = 0.5 / 5; // sample variance 0.5
    const vy = 4 / 5; // sample variance 4
    expect(w.t).toBeCloseTo(2.5 / Math.sqrt(vx + vy), 10);
    expect(w.df).toBeCloseTo((vx + vy) ** 2 / (vx ** 2 / 4 + vy ** 2 / 4), 10);
    expect(w.pGreater).toBeGreaterThan(0);
    expect(w.pGreater).toBeLessThan(0.05);
  });
});

describe('simulated power', () => {
  it("of Welch's rule matches the analytic power within 0.05 on Gaussian data with known d", () => {
    const rng = new Rng(7);
    for (const [d, n] of [
      [0.8, 5],
      [0.8, 12],
      [1.5, 6],
    ] as const) {
      // A large pilot stands for the distribution: resampling it is (nearly) sampling N(0,1), N(d,1).
      const a = [gaussian(rng, 4000)];
      const b = [gaussian(rng, 4000, d)];
      const sim = simulatedPower(a, b, { n, rule: { kind: 'welch', alpha: 0.05 }, sims: 2000, seed: 11, effect: d });
      expect(Math.abs(sim - analyticPower(d, n))).toBeLessThan(0.05);
    }
  });

  it("of the tool's own rule rises with the seeds (monotone curve) and seedsNeeded finds the crossing", () => {
    const rng = new Rng(3);
    const a = [0, 1, 2].map(() => gaussian(rng, 200));
    const b = [0, 1, 2].map(() => gaussian(rng, 200, 0.8));
    const rule = { kind: 'verdict' as const, reps: 150 };
    const curve = [3, 6, 12, 24].map((n) => simulatedPower(a, b, { n, rule, sims: 120, seed: 5, effect: 0.8 }));
    for (let i = 1; i < curve.length; i++) expect(curve[i]).toBeGreaterThanOrEqual(curve[i - 1] - 0.02);
    expect(curve[3]).toBeGreaterThan(curve[0] + 0.5);
    const found = seedsNeeded(a, b, { rule, sims: 120, seed: 5, effect: 0.8, target: 0.8, maxSeeds: 40 });
    expect(found.n).not.toBeNull();
    const at = new Map(found.curve.map((p) => [p.n, p.power]));
    expect(at.get(found.n as number)).toBeGreaterThanOrEqual(0.8);
    if (at.has((found.n as number) - 1)) expect(at.get((found.n as number) - 1)).toBeLessThan(0.8);
  });

  it('reports null when maxSeeds cannot reach the target, and detects a larger effect sooner', () => {
    const rng = new Rng(9);
    const a = [gaussian(rng, 100)];
    const b = [gaussian(rng, 100, 0.05)];
    const rule = { kind: 'verdict' as const, reps: 100 };
    expect(seedsNeeded(a, b, { rule, sims: 60, seed: 1, effect: 0.05, target: 0.8, maxSeeds: 6 }).n).toBeNull();
    const e = detectableEffect(a, b, {
      n: 10,
      rule,
      sims: 80,
      seed: 2,
      target: 0.8,
      maxEffect: 4,
      direction: 1,
      steps: 6,
    });
    expect(e).not.toBeNull();
    // With sigma 1 and 10 runs per arm, the analytic two-sided t-test needs d ~ 1.3 for 80%.
    expect(e as number).toBeGreaterThan(0.6);
    expect(e as number).toBeLessThan(2.5);
  });

  it('shifts B to the asked IQM difference exactly', () => {
    const a = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ];
    const b = [
      [2, 2, 9, 1],
      [0, 3, 3, 3],
    ];
    const s = shiftToEffect(a, b, 0.75);
    const flatIqm = (t: number[][]) => {
      const v = t.flat().sort((x, y) => x - y);
      const cut = Math.floor(v.length / 4);
      const mid = v.slice(cut, v.length - cut);
      return mid.reduce((x, y) => x + y, 0) / mid.length;
    };
    expect(flatIqm(s) - flatIqm(a)).toBeCloseTo(0.75, 12);
  });
});

describe('the decision rule', () => {
  it('needs both intervals on the same side and the minimum runs', () => {
    const iv = (lo: number, hi: number) => ({ estimate: (lo + hi) / 2, lo, hi });
    expect(significance(iv(0.1, 0.3), iv(0.6, 0.9), 5)).toEqual({ significant: true, direction: 'better' });
    expect(significance(iv(-0.3, -0.1), iv(0.1, 0.4), 5)).toEqual({ significant: true, direction: 'worse' });
    expect(significance(iv(0.1, 0.3), iv(0.4, 0.9), 5).significant).toBe(false);
    expect(significance(iv(0.1, 0.3), iv(0.6, 0.9), MIN_RUNS_FOR_VERDICT - 1).significant).toBe(false);
  });

  it('decides a clear difference and not an identical pair', () => {
    const a = [
      [1, 2, 3, 4, 5],
      [10, 11, 12, 13, 14],
    ];
    const b = a.map((r) => r.map((v) => v + 100));
    expect(decide(a, b, { reps: 500, seed: 1 })).toMatchObject({ significant: true, direction: 'better' });
    expect(decide(a, a, { reps: 500, seed: 1 }).significant).toBe(false);
  });
});
