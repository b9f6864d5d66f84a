// `coordrl power` on an experiment on disk: the MinAtar A2C verdict's per-seed greedy scores
// (docs/results/minatar-a2c/final-scores.json, one decimal as published) as pilot data.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment } from '../src/experiments/manifest.js';
import { analyzePower, describePower } from '../src/experiments/power-analysis.js';
import { summarizeExperiment } from '../src/experiments/summary.js';
import { writeFinalScore } from './helpers/final-score.js';

/** The published per-seed greedy scores (docs/results/minatar-a2c/final-scores.json). */
const GREEDY: Record<string, Record<string, number[]>> = JSON.parse(
  readFileSync(path.resolve('docs/results/minatar-a2c/final-scores.json'), 'utf8'),
).greedy;

const root = mkdtempSync(path.join(tmpdir(), 'coordrl-power-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function experiment(name: string, seeds: number[]): string {
  const dir = path.join(root, name);
  const envs = Object.keys(GREEDY.conv);
  const m = createExperiment(dir, {
    algo: 'a2c',
    envs,
    arms: parseArms('conv,coordconv', undefined),
    seeds,
    evalEpisodes: 30,
    base: { steps: 1000 },
  });
  for (const run of m.runs) {
    const runDir = path.join(dir, run.dir);
    mkdirSync(runDir, { recursive: true });
    const score = GREEDY[run.arm][run.env][seeds.indexOf(run.seed)];
    writeFinalScore(runDir, score);
    // 200 s of training each (what the summary reads as the run's wall time).
    writeFileSync(
      path.join(runDir, 'metrics.jsonl'),
      `${JSON.stringify({ step: 1000, frames: 1000, time: 200, episodes: 3 })}\n`,
    );
  }
  return dir;
}

describe('coordrl power', () => {
  it('sizes the MinAtar A2C verdict: more seeds than the pilot for the observed difference, priced at the median run', () => {
    const dir = experiment('five', [1, 2, 3, 4, 5]);
    const r = analyzePower(summarizeExperiment(dir, { reps: 200 }), {
      sims: 60,
      reps: 100,
      maxSeeds: 40,
      effect: -0.5,
    });
    expect(r.warnings).toEqual([]);
    expect(r.medianRunSeconds).toBe(200);
    expect(r.comparisons).toHaveLength(1);
    const c = r.comparisons[0];
    expect(c.a).toBe('conv');
    expect(c.b).toBe('coordconv');
    expect(c.observed?.effect).toBeLessThan(0);
    // 5 seeds did not decide it, so the observed difference needs more (or more than the maximum).
    if (c.observed?.seedsPerArm !== null) expect(c.observed?.seedsPerArm).toBeGreaterThan(5);
    // A difference of -0.5 (larger than the observed -0.1x) is cheaper to decide than the observed one.
    expect(c.given?.seedsPerArm).not.toBeNull();
    if (c.observed?.seedsPerArm) expect(c.given?.seedsPerArm as number).toBeLessThanOrEqual(c.observed.seedsPerArm);
    expect(c.given?.costSeconds).toBe((c.given?.seedsPerArm as number) * 5 * 2 * 200);
    // What 5 seeds could detect is larger than what they saw.
    expect(Math.abs(c.detectable.effect as number)).toBeGreaterThan(Math.abs(c.observed?.effect as number));
    expect(c.welch.d).toBeLessThan(0);
    expect(describePower(r)).toMatch(/seeds per arm/);
  });

  it('warns when the pilot has fewer than five seeds', () => {
    const dir = experiment('three', [1, 2, 3]);
    const r = analyzePower(summarizeExperiment(dir, { reps: 100 }), { sims: 20, reps: 50, maxSeeds: 8 });
    expect(r.warnings.join(' ')).toMatch(/only 3 runs per arm.*rough estimate/);
  });

  it('prints JSON and refuses a directory that is not an experiment with one line (exit 2)', () => {
    const dir = experiment('json', [1, 2, 3, 4, 5]);
    const bin = path.resolve('bin/coordrl.js');
    const ok = spawnSync('node', [bin, 'power', dir, '--json', '--sims', '10', '--reps', '20', '--max-seeds', '6'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(ok.status).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(doc.comparisons[0].b).toBe('coordconv');
    const bad = spawnSync('node', [bin, 'power', root], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/not an A\/B experiment/);
    const badFlag = spawnSync('node', [bin, 'power', dir, '--power', '1.5'], { encoding: 'utf8', timeout: 60_000 });
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toMatch(/--power must be a number between 0 and 1/);
  });
});
