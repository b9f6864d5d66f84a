// A finished run's final.json with a given evaluated score, for tests that build experiments on
// disk without training (the summary, the report, `power`, `ab --status` read only this file).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FINAL_FILE, type FinalFile } from '../../src/experiments/manifest.js';

export function writeFinalScore(runDir: string, score: number): void {
  mkdirSync(runDir, { recursive: true });
  const final: FinalFile = {
    coordrl: 'test',
    createdAt: '',
    source: 'eval',
    score,
    checkpointStep: 1000,
    eval: null,
    trainScore: null,
  };
  writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify(final));
}
