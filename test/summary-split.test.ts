// The summary in three steps: load reads the disk, compute and describe only use what load read.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment, FINAL_FILE } from '../src/experiments/manifest.js';
import { summarizeExperiment } from '../src/experiments/summary.js';
import { computeSummary, judge } from '../src/experiments/summary-compute.js';
import { describeSummary, verdict } from '../src/experiments/summary-describe.js';
import { loadExperiment } from '../src/experiments/summary-load.js';

/** pong, conv vs coordconv, 3 seeds; pong/coordconv/seed-3 trained only half its budget. */
function experiment(): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-summary-split-')), 'exp');
  const m = createExperiment(dir, {
    algo: 'a2c',
    envs: ['pong'],
    arms: parseArms('conv,coordconv', undefined),
    seeds: [1, 2, 3],
    evalEpisodes: 5,
    base: { steps: 4000 },
  });
  for (const run of m.runs) {
    const runDir = path.join(dir, run.dir);
    mkdirSync(runDir, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(dir, run.configFile), 'utf8'));
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ config, budgetSteps: 4000, frameSkip: 4 }));
    const score = (run.arm === 'conv' ? -20 : -12) + run.seed;
    const unfinished = run.id === 'pong/coordconv/seed-3';
    const lines = [1, 2, 3, 4].slice(0, unfinished ? 2 : 4).map((i) => ({
      step: 1000 * i,
      frames: 4000 * i,
      time: i,
      episodes: 3 * i,
      score: (score * i) / 4,
    }));
    writeFileSync(path.join(runDir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    if (unfinished) continue;
    const final = { coordrl: 'test', createdAt: '', source: 'eval', score, checkpointStep: 4000, eval: null };
    writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify({ ...final, trainScore: null }));
  }
  return dir;
}

describe('summary: load -> compute -> describe', () => {
  it('computes and describes from what was loaded alone, as summarizeExperiment does', () => {
    const dir = experiment();
    const versions = { coordrl: 'test', node: 'test' };
    const whole = summarizeExperiment(dir, { reps: 200, versions });
    const loaded = loadExperiment(dir);
    rmSync(path.dirname(dir), { recursive: true, force: true }); // no disk from here on
    const stats = computeSummary(loaded, { reps: 200, seed: 0, gridPoints: 50, score: 'final' });
    const words = describeSummary(stats, { createdAt: whole.createdAt, report: versions });
    expect(JSON.stringify(words)).toBe(JSON.stringify(whole));
    expect(words.progress.missing).toEqual([
      {
        id: 'pong/coordconv/seed-3',
        game: 'pong',
        arm: 'coordconv',
        seed: 3,
        status: 'partial',
        detail: 'trained 2,000 of 4,000 steps',
      },
    ]);
  });

  it("the verdict's claim is judge()'s", () => {
    const base = {
      a: 'conv',
      b: 'coordconv',
      games: 1,
      gamesBetter: 1,
      gamesWorse: 0,
      gamesTied: 0,
      runsPerArm: { min: 5, max: 5 },
      scoreKind: 'raw' as const,
    };
    const cases = [
      { iqmDiff: { estimate: 2, lo: 1, hi: 3 }, poi: { estimate: 0.8, lo: 0.6, hi: 0.9 } },
      { iqmDiff: { estimate: -2, lo: -3, hi: -1 }, poi: { estimate: 0.2, lo: 0.1, hi: 0.4 } },
      { iqmDiff: { estimate: 2, lo: 1, hi: 3 }, poi: { estimate: 0.6, lo: 0.4, hi: 0.8 } },
      { iqmDiff: { estimate: 2, lo: 1, hi: 3 }, poi: { estimate: 0.2, lo: 0.1, hi: 0.4 } },
    ];
    const claims = cases.map((c) => judge({ ...base, ...c }));
    expect(claims.map((j) => [j.significant, j.direction])).toEqual([
      [true, 'better'],
      [true, 'worse'],
      [false, null],
      [false, null],
    ]);
    for (const [i, c] of cases.entries()) {
      expect(verdict({ ...base, ...c })).toMatchObject({
        significant: claims[i].significant,
        direction: claims[i].direction,
      });
    }
    expect(verdict({ ...base, ...cases[3] }).text).toMatch(/the two intervals point in opposite directions/);
    const few = { ...base, ...cases[0], runsPerArm: { min: 2, max: 2 } };
    expect(judge(few)).toMatchObject({ significant: false, tooFewRuns: true });
    expect(verdict(few).text).toMatch(/inconclusive: only 2 runs per arm/);
  });
});
