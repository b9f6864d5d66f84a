// The A/B summary's per-game effects (P(B > A) per game with its interval) and sample-efficiency
// curves (aggregate IQM of normalised training scores against frames, per arm and B - A), on
// synthetic run directories. python-bridge/tests/test_rliable.py checks the same numbers against
// rliable itself; this file checks what they mean and where they are left out.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment, type ExperimentSpec, FINAL_FILE, type FinalFile } from '../src/experiments/manifest.js';
import { summarizeExperiment } from '../src/experiments/summary.js';
import { framesGrid, interpolate, sampleEfficiencyCurves } from '../src/experiments/summary-compute.js';
import { iqm, probabilityOfImprovement } from '../src/stats/aggregate.js';
import { humanNormalized } from '../src/stats/atari-scores.js';

const SPEC: ExperimentSpec = {
  algo: 'a2c',
  envs: ['pong', 'breakout'],
  arms: parseArms('conv,coordconv', undefined),
  seeds: [1, 2, 3, 4],
  evalEpisodes: 5,
  base: { steps: 1000 },
};

interface Synth {
  /** Final score (none: the run has no final.json). */
  score?: number;
  /** Training curve as [frames, score] records (none: no metrics.jsonl). */
  curve?: [number, number][];
}

function synthExperiment(spec: ExperimentSpec, runs: (game: string, arm: string, seed: number) => Synth): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-effects-')), 'exp');
  const m = createExperiment(dir, spec);
  for (const run of m.runs) {
    const s = runs(run.game, run.arm, run.seed);
    const runDir = path.join(dir, run.dir);
    mkdirSync(runDir, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(dir, run.configFile), 'utf8'));
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ config, budgetSteps: 1000, frameSkip: 4 }));
    if (s.curve) {
      const lines = s.curve.map(([frames, score], i) =>
        JSON.stringify({ step: frames / 4, frames, time: i + 1, episodes: 3 * (i + 1), score }),
      );
      writeFileSync(path.join(runDir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    }
    if (s.score !== undefined) {
      const final: FinalFile = {
        coordrl: 'test',
        createdAt: '',
        source: 'eval',
        score: s.score,
        checkpointStep: 1000,
        eval: null,
        trainScore: null,
      };
      writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify(final));
    }
  }
  return dir;
}

/** A rising training curve logged every 400 frames up to 4000: start + slope * i. */
function rising(start: number, slope: number, points = 10): [number, number][] {
  return Array.from({ length: points }, (_, i) => [400 * (i + 1), start + slope * i]);
}

describe('per-game P(B > A)', () => {
  it('is 1 with interval [1, 1] on every game where B beats every run of A', () => {
    const dir = synthExperiment(SPEC, (game, arm, seed) => ({
      score: (game === 'pong' ? -20 : 2) + seed + (arm === 'coordconv' ? 10 : 0),
    }));
    const s = summarizeExperiment(dir, { reps: 300 });
    for (const g of s.games) {
      expect(g.comparisons[0].poi).toEqual({ estimate: 1, lo: 1, hi: 1 });
      expect(g.comparisons[0].meanDiff?.estimate).toBeCloseTo(10, 12);
    }
    // The opposite order of the arms says the opposite.
    const rev = summarizeExperiment(
      synthExperiment({ ...SPEC, arms: parseArms('coordconv,conv', undefined) }, (game, arm, seed) => ({
        score: (game === 'pong' ? -20 : 2) + seed + (arm === 'coordconv' ? 10 : 0),
      })),
      { reps: 300 },
    );
    for (const g of rev.games) expect(g.comparisons[0].poi).toEqual({ estimate: 0, lo: 0, hi: 0 });
  });

  it("is that game's Mann-Whitney U / (n_a n_b) with ties counting one half, inside its interval", () => {
    const A = [1, 2, 2, 5];
    const B = [2, 3, 0, 5];
    const dir = synthExperiment({ ...SPEC, envs: ['pong'] }, (_g, arm, seed) => ({
      score: (arm === 'conv' ? A : B)[seed - 1],
    }));
    const c = summarizeExperiment(dir, { reps: 500 }).games[0].comparisons[0];
    let u = 0;
    for (const a of A) for (const b of B) u += b > a ? 1 : b === a ? 0.5 : 0;
    expect(c.poi?.estimate).toBe(u / 16);
    expect(c.poi?.estimate).toBe(probabilityOfImprovement([A], [B]));
    expect(c.poi?.lo).toBeLessThanOrEqual(c.poi?.estimate as number);
    expect(c.poi?.hi).toBeGreaterThanOrEqual(c.poi?.estimate as number);
    expect(c.poi?.hi).toBeGreaterThan(c.poi?.lo as number);
    // The new key comes after the existing ones, so their order in summary.json is unchanged.
    expect(Object.keys(c)).toEqual(['a', 'b', 'meanDiff', 'higher', 'poi']);
  });

  it('is null where an arm has no final score on the game', () => {
    const dir = synthExperiment(SPEC, (game, arm, seed) =>
      game === 'breakout' && arm === 'coordconv' ? {} : { score: seed },
    );
    const s = summarizeExperiment(dir, { reps: 100 });
    expect(s.games[1].comparisons[0]).toMatchObject({ meanDiff: null, higher: null, poi: null });
    expect(s.games[0].comparisons[0].poi).not.toBeNull();
  });
});

describe('sample-efficiency curves', () => {
  it('an arm better at every point of training has an IQM difference above 0 at every point', () => {
    const dir = synthExperiment(SPEC, (game, arm, seed) => {
      // Seeds spread less than one point: from the second logged point on, every coordconv run
      // beats every conv run of its game, so every resample's IQM difference is above 0 there.
      const start = (game === 'pong' ? -21 : 0) + 0.1 * seed;
      return { score: start, curve: rising(start, arm === 'coordconv' ? 2 : 1) };
    });
    const s = summarizeExperiment(dir, { reps: 300, gridPoints: 11 });
    const se = s.sampleEfficiency;
    expect(se).not.toBeNull();
    if (!se) return;
    // Grid 0, 400, ..., 4000; frame 0 is before every run's first logged point.
    expect(se.grid).toEqual([400, 800, 1200, 1600, 2000, 2400, 2800, 3200, 3600, 4000]);
    expect(se.arms.map((a) => a.arm)).toEqual(['conv', 'coordconv']);
    expect(se.arms[0].runs).toEqual(Array(10).fill(8));
    expect(se.differences).toHaveLength(1);
    const d = se.differences[0];
    expect(d).toMatchObject({ a: 'conv', b: 'coordconv' });
    // At the first logged point both arms start equal; after it coordconv is ahead, significantly.
    expect(d.points[0].estimate).toBeCloseTo(0, 12);
    for (const p of d.points.slice(1)) {
      expect(p.estimate).toBeGreaterThan(0);
      expect(p.lo).toBeGreaterThan(0);
    }
    for (const a of se.arms) {
      for (const p of a.points) {
        expect(p.lo).toBeLessThanOrEqual(p.estimate);
        expect(p.hi).toBeGreaterThanOrEqual(p.estimate);
      }
      // Rising curves: a rising IQM.
      const est = a.points.map((p) => p.estimate);
      expect(est).toEqual([...est].sort((x, y) => x - y));
    }
    // The point estimate is the IQM of the human-normalised scores of all runs of both games there.
    const at = (k: number, arm: 'conv' | 'coordconv') =>
      ['pong', 'breakout'].flatMap((game) =>
        [1, 2, 3, 4].map((seed) => {
          const start = (game === 'pong' ? -21 : 0) + 0.1 * seed;
          return humanNormalized(game, start + (arm === 'coordconv' ? 2 : 1) * k) as number;
        }),
      );
    for (let k = 0; k < 10; k++) {
      expect(se.arms[0].points[k].estimate).toBeCloseTo(iqm(at(k, 'conv')), 12);
      expect(d.points[k].estimate).toBeCloseTo(iqm(at(k, 'coordconv')) - iqm(at(k, 'conv')), 12);
    }
    // Deterministic: the same numbers twice.
    expect(summarizeExperiment(dir, { reps: 300, gridPoints: 11 }).sampleEfficiency).toEqual(se);
  });

  it('leaves out a run past the end of its curve, and a point where a game has no run of an arm', () => {
    const dir = synthExperiment(SPEC, (game, arm, seed) => {
      // breakout/coordconv: seeds 1-3 logged only to 2000 frames, seed 4 to 2800 (still training).
      if (game === 'breakout' && arm === 'coordconv') return { curve: rising(seed, 1, seed === 4 ? 7 : 5) };
      return { score: seed, curve: rising(seed, 1) };
    });
    const s = summarizeExperiment(dir, { reps: 200, gridPoints: 11 });
    const se = s.sampleEfficiency;
    expect(se?.grid).toEqual([400, 800, 1200, 1600, 2000, 2400, 2800]);
    expect(se?.arms[0].runs).toEqual(Array(7).fill(8));
    expect(se?.arms[1].runs).toEqual([8, 8, 8, 8, 8, 5, 5]);
    // At 2400 frames coordconv's breakout has seed 4 only (interpolated between 2000 and 2800).
    const seed4 = { frames: [400, 800, 1200, 1600, 2000, 2400, 2800], score: [4, 5, 6, 7, 8, 9, 10] };
    const pong = [1, 2, 3, 4].map((seed) => humanNormalized('pong', seed + 5) as number);
    const breakout = humanNormalized('breakout', interpolate(seed4, 2400) as number) as number;
    expect(se?.arms[1].points[5].estimate).toBeCloseTo(iqm([...pong, breakout]), 12);
    // No final score on breakout for coordconv: the aggregate leaves the game out, the curves do not.
    expect(s.aggregate?.games).toEqual(['pong']);
  });

  it('is null where no run has logged a curve, and every other field is as without it', () => {
    const dir = synthExperiment(SPEC, (_g, _a, seed) => ({ score: seed }));
    const s = summarizeExperiment(dir, { reps: 100 });
    expect(s.sampleEfficiency).toBeNull();
    expect(Object.keys(s)).toEqual([
      'format',
      'version',
      'createdAt',
      'experiment',
      'budget',
      'hyperparameters',
      'versions',
      'runs',
      'progress',
      'scores',
      'normalization',
      'games',
      'aggregate',
      'comparisons',
      'configDiff',
      'verdicts',
      'bootstrap',
      'sampleEfficiency',
    ]);
  });

  it('is null where one game has no curve for an arm at any point', () => {
    const dir = synthExperiment(SPEC, (game, arm, seed) =>
      game === 'pong' && arm === 'conv' ? { score: seed } : { score: seed, curve: rising(seed, 1) },
    );
    expect(summarizeExperiment(dir, { reps: 100 }).sampleEfficiency).toBeNull();
  });

  it('uses raw scores where the aggregate does (a game without reference scores)', () => {
    const arms = [
      { name: 'small', fields: { torso: 'mlp', lr: 1e-3 } },
      { name: 'big', fields: { torso: 'mlp', lr: 2e-3 } },
    ];
    const dir = synthExperiment({ ...SPEC, envs: ['CartPole-v1'], arms }, (_g, arm, seed) => ({
      score: seed,
      curve: rising(10 * seed, arm === 'small' ? 1 : 3),
    }));
    const s = summarizeExperiment(dir, { reps: 100, gridPoints: 11 });
    expect(s.normalization.kind).toBe('raw');
    expect(s.sampleEfficiency?.arms[1].points[9].estimate).toBeCloseTo(iqm([1, 2, 3, 4].map((x) => 10 * x + 27)), 12);
  });

  it('computes the grid from 0 to the largest logged frame count; equal arms differ by 0 everywhere', () => {
    expect(framesGrid([], 5)).toEqual([]);
    expect(
      framesGrid(
        [
          { frames: [10, 20], score: [0, 0] },
          { frames: [40], score: [0] },
        ],
        5,
      ),
    ).toEqual([0, 10, 20, 30, 40]);
    const runs = [0, 1, 2, 3, 4, 5].map((i) => ({ frames: [1, 2, 3], score: [i, i, i] }));
    const se = sampleEfficiencyCurves(
      [
        { arm: 'a', games: [{ env: 'x', runs }] },
        { arm: 'b', games: [{ env: 'x', runs }] },
      ],
      [1, 2, 3],
      (_env, v) => v,
      { reps: 200, seed: 0 },
    );
    // Equal curves: the same IQM at every frame, a difference of 0 inside an interval around it.
    expect(se?.arms[0].points.map((p) => p.estimate)).toEqual([2.5, 2.5, 2.5]);
    expect(se?.arms[0].runs).toEqual([6, 6, 6]);
    for (const p of se?.differences[0].points ?? []) {
      expect(p.estimate).toBe(0);
      expect(p.lo).toBeLessThan(0);
      expect(p.hi).toBeGreaterThan(0);
    }
  });
});
