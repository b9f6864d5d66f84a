// The README's headline numbers recomputed from the raw results committed under docs/results/:
// a result that cannot be recomputed from the repository fails here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { summarizeExperiment } from '../src/experiments/summary.js';

const root = mkdtempSync(path.join(tmpdir(), 'coordrl-results-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fmt = (x: number, signed = false) => {
  const s = x.toFixed(2);
  return signed && x >= 0 ? `+${s}` : s;
};

describe('README results', () => {
  it('the MinAtar A2C verdict: IQM difference and P(CoordConv > conv) from docs/results/minatar-a2c', () => {
    const dir = path.join(root, 'minatar-a2c');
    execFileSync('node', ['scripts/experiment-from-scores.mjs', 'docs/results/minatar-a2c/final-scores.json', dir]);
    // As the verdict was reported: `coordrl report --reps 10000` (bootstrap seed 0).
    const s = summarizeExperiment(dir, { reps: 10_000 });
    const c = s.comparisons[0];
    const iqm = `${fmt(c.iqmDiff.estimate, true)} [${fmt(c.iqmDiff.lo, true)}, ${fmt(c.iqmDiff.hi, true)}]`;
    const poi = `${fmt(c.poi.estimate)} [${fmt(c.poi.lo)}, ${fmt(c.poi.hi)}]`;
    const readme = readFileSync('README.md', 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| MinAtar, A2C, conv vs CoordConv'));
    expect(row).toBeDefined();
    expect(row).toContain(`IQM ${iqm}`);
    expect(row).toContain(`P(CoordConv > conv) ${poi}`);
    expect(c.significant).toBe(false);
  });
});
