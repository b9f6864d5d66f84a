#!/usr/bin/env node
// Rebuilds an A/B experiment directory from published per-seed final scores (e.g.
// docs/results/minatar-a2c/final-scores.json), so `coordrl report` and `coordrl power` can be run
// on a result without its run directories:
//   node scripts/experiment-from-scores.mjs docs/results/minatar-a2c/final-scores.json /tmp/exp \
//     [--score greedy|train] [--run-seconds 200]
// Each run gets a final.json with its score and a one-record metrics.jsonl carrying the training
// wall time given (the median run time the result reports), which `coordrl power` prices seeds at.
// Needs the built package (npm run build).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseArms } from '../dist/src/experiments/arms.js';
import { createExperiment, FINAL_FILE } from '../dist/src/experiments/manifest.js';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: { score: { type: 'string', default: 'greedy' }, 'run-seconds': { type: 'string', default: '200' } },
});
if (positionals.length !== 2 || !['greedy', 'train'].includes(o.score)) {
  console.error(
    'usage: node scripts/experiment-from-scores.mjs SCORES.json OUT-DIR [--score greedy|train] [--run-seconds S]',
  );
  process.exit(2);
}
const [file, out] = positionals;
const data = JSON.parse(readFileSync(file, 'utf8'));
const scores = data[o.score];
const arms = Object.keys(scores);
const envs = Object.keys(scores[arms[0]]);
const seeds = data.seeds;
const m = createExperiment(path.resolve(out), {
  algo: data.algo ?? 'a2c',
  envs,
  arms: parseArms(arms.join(','), undefined),
  seeds,
  evalEpisodes: data.evalEpisodes ?? 30,
  base: { frames: data.frames ?? 2_000_000 },
});
for (const run of m.runs) {
  const dir = path.join(path.resolve(out), run.dir);
  mkdirSync(dir, { recursive: true });
  const score = scores[run.arm][run.env][seeds.indexOf(run.seed)];
  const final = {
    coordrl: `from ${file}`,
    createdAt: '',
    source: 'eval',
    score,
    checkpointStep: 0,
    eval: null,
    trainScore: null,
  };
  writeFileSync(path.join(dir, FINAL_FILE), `${JSON.stringify(final)}\n`);
  const record = { step: 0, frames: data.frames ?? 0, time: Number(o['run-seconds']), episodes: 1 };
  writeFileSync(path.join(dir, 'metrics.jsonl'), `${JSON.stringify(record)}\n`);
}
console.log(`${m.runs.length} runs written to ${out}`);
