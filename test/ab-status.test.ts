// `coordrl ab --status` on a local experiment (issue 23): the runs' states in local terms (done,
// running, stopped, not started, failed), progress and ETA of a running run, and advice about
// `coordrl ab` instead of resubmitting to Slurm.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment } from '../src/experiments/manifest.js';
import { acquireDirLock } from '../src/util/dir-lock.js';
import { writeFinalScore } from './helpers/final-score.js';

const root = mkdtempSync(path.join(tmpdir(), 'coordrl-status-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const bin = path.resolve('bin/coordrl.js');

describe('coordrl ab --status, local executor', () => {
  it('says running (with steps/s and ETA), done and not started, and who runs the experiment', () => {
    const exp = path.join(root, 'exp');
    const m = createExperiment(exp, {
      algo: 'a2c',
      envs: ['pong'],
      arms: parseArms('conv,coordconv', undefined),
      seeds: [1, 2],
      evalEpisodes: 3,
      base: { steps: 1000 },
    });
    const [running, done] = m.runs;
    const runDir = path.join(exp, running.dir);
    mkdirSync(runDir, { recursive: true });
    // 250 of 1,000 steps in 10 s: 25 steps/s, 30 s to go.
    writeFileSync(
      path.join(runDir, 'metrics.jsonl'),
      `${JSON.stringify({ step: 250, frames: 250, time: 10, episodes: 2 })}\n`,
    );
    const runLock = acquireDirLock(runDir, { command: 'coordrl train', heartbeatSeconds: 0 });
    const doneDir = path.join(exp, done.dir);
    mkdirSync(doneDir, { recursive: true });
    writeFinalScore(doneDir, 42);
    const expLock = acquireDirLock(exp, { command: 'coordrl ab', heartbeatSeconds: 0 });
    try {
      const text = execFileSync('node', [bin, 'ab', '--status', exp], { encoding: 'utf8', timeout: 60_000 });
      expect(text).toMatch(/\(local\): 4 runs: 1 done, 1 running, 2 not started/);
      expect(text).toMatch(
        new RegExp(`${running.id.replace(/\//g, '\\/')}\\s+running\\s+250/1000 steps\\s+25 steps/s\\s+ETA 30 s`),
      );
      expect(text).toMatch(/score 42\.00/);
      expect(text).toMatch(new RegExp(`pid ${process.pid} .*coordrl ab.*goes on with the runs not done`));
      expect(text).not.toMatch(/Slurm|unsubmitted/);
      const json = JSON.parse(
        execFileSync('node', [bin, 'ab', '--status', exp, '--json'], { encoding: 'utf8', timeout: 60_000 }),
      );
      expect(json.executor).toBe('local');
      expect(json.counts).toMatchObject({ done: 1, running: 1, 'not started': 2 });
      expect(json.runs.find((r: { id: string }) => r.id === running.id).etaSeconds).toBeCloseTo(30, 6);
    } finally {
      expLock.release();
      runLock.release();
    }
    // Nobody runs it any more: the advice is to resume it here.
    const after = execFileSync('node', [bin, 'ab', '--status', exp], { encoding: 'utf8', timeout: 60_000 });
    expect(after).toMatch(
      /no coordrl ab is running it: coordrl ab --resume .* continues the 3 runs neither done nor running/,
    );
  });
});
