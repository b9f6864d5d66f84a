// Our statistics as JSON, for python-bridge/tests/test_rliable.py, which computes the same numbers
// with rliable 1.2.0 and compares. Reads one JSON request on stdin, writes one JSON reply; runs
// the built package (dist/), so `npm run build` first (npm test does).
//   {"cases": [{"x": [[...per run] per task], "y": ..., "taus": [...], "reps": N, "seed": S}],
//    "experiment": {"envs": [...], "seeds": [...], "scores": {arm: {env: [score or null per seed]}},
//                   "reps": N, "gridPoints": G (optional),
//                   "curves": {arm: {env: [[[frames, score], ...] or null per seed]}} (optional)}}
// A run's curve becomes its metrics.jsonl (records step, frames, time, episodes, score, as
// training logs them); the reply has the summary's aggregate, comparisons, per-game comparisons
// and sample-efficiency curves.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArms } from '../../dist/src/experiments/arms.js';
import { createExperiment, FINAL_FILE } from '../../dist/src/experiments/manifest.js';
import { summarizeExperiment } from '../../dist/src/experiments/summary.js';
import {
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  differenceCI,
  performanceProfile,
  performanceProfileCI,
  probabilityOfImprovement,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from '../../dist/src/stats/aggregate.js';

const AGG = { iqm: aggregateIqm, mean: aggregateMean, median: aggregateMedian };

function arm(t, reps, seed) {
  const out = {};
  for (const [name, f] of Object.entries(AGG)) out[name] = stratifiedBootstrapCI(t, f, { reps, seed });
  return out;
}

function oneCase({ x, y, taus, reps, seed }) {
  const o = { reps, seed };
  return {
    x: arm(x, reps, seed),
    y: arm(y, reps, seed + 1),
    iqmDiff: differenceCI(x, y, aggregateIqm, o),
    meanDiff: differenceCI(x, y, aggregateMean, o),
    poi: probabilityOfImprovement(x, y),
    poiCI: probabilityOfImprovementCI(x, y, o),
    profileX: performanceProfile(x, taus),
    profileXCI: performanceProfileCI(x, taus, o),
  };
}

/** A finished A/B experiment on disk with the given final scores, summarised by `coordrl ab`'s code. */
function experiment({ envs, seeds, scores, reps, curves, gridPoints }) {
  const root = mkdtempSync(path.join(tmpdir(), 'coordrl-rliable-'));
  try {
    const dir = path.join(root, 'exp');
    const m = createExperiment(dir, {
      algo: 'a2c',
      envs,
      arms: parseArms('conv,coordconv', undefined),
      seeds,
      evalEpisodes: 5,
      base: { steps: 1000 },
    });
    for (const run of m.runs) {
      const runDir = path.join(dir, run.dir);
      const curve = curves?.[run.arm]?.[run.env]?.[seeds.indexOf(run.seed)] ?? null;
      if (curve) {
        mkdirSync(runDir, { recursive: true });
        const records = curve.map(([frames, score], i) =>
          JSON.stringify({ step: frames / 4, frames, time: i + 1, episodes: 10 * (i + 1), score }),
        );
        writeFileSync(path.join(runDir, 'metrics.jsonl'), `${records.join('\n')}\n`);
      }
      const score = scores[run.arm][run.env][seeds.indexOf(run.seed)];
      if (score === null) continue;
      mkdirSync(runDir, { recursive: true });
      const final = { coordrl: 'test', createdAt: '', source: 'eval', score, checkpointStep: 1000, eval: null };
      writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify({ ...final, trainScore: null }));
    }
    const s = summarizeExperiment(dir, { reps, seed: 0, ...(gridPoints ? { gridPoints } : {}) });
    const references = Object.fromEntries(s.games.map((g) => [g.env, g.reference]));
    return {
      aggregate: s.aggregate,
      comparisons: s.comparisons,
      normalization: s.normalization.kind,
      references,
      games: s.games.map((g) => ({ env: g.env, comparisons: g.comparisons })),
      sampleEfficiency: s.sampleEfficiency,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const req = JSON.parse(readFileSync(0, 'utf8'));
const reply = {
  cases: (req.cases ?? []).map(oneCase),
  experiment: req.experiment ? experiment(req.experiment) : null,
};
process.stdout.write(JSON.stringify(reply));
