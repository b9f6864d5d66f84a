import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { distinctLabels, readRunSeries } from '../src/report/run-curves.js';

describe('plot legend labels', () => {
  it('uses the shortest path suffix that tells runs apart', () => {
    expect(distinctLabels(['exp/runs/pong/conv/seed-1', 'exp/runs/pong/coordconv/seed-1'])).toEqual([
      'conv/seed-1',
      'coordconv/seed-1',
    ]);
    expect(distinctLabels(['runs/pong-conv', 'runs/pong-coordconv'])).toEqual(['pong-conv', 'pong-coordconv']);
    // only the clashing ones grow
    expect(distinctLabels(['a/pong/conv/seed-1', 'a/breakout/conv/seed-1', 'a/pong/conv/seed-2'])).toEqual([
      'pong/conv/seed-1',
      'breakout/conv/seed-1',
      'seed-2',
    ]);
    expect(distinctLabels(['x/run/'])).toEqual(['run']);
  });

  it('labels the runs of an A/B layout apart when plotting them', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-labels-'));
    const dirs = ['conv', 'coordconv'].map((arm) => {
      const dir = path.join(root, 'runs', 'pong', arm, 'seed-1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'metrics.jsonl'), `${JSON.stringify({ step: 1, frames: 4, time: 0, score: 1 })}\n`);
      return dir;
    });
    const other = path.join(root, 'sb3.jsonl');
    writeFileSync(other, `${JSON.stringify({ frames: 8, score: 2 })}\n`);
    expect(readRunSeries([...dirs, other], 'score', 'frames').map((s) => s.label)).toEqual([
      'conv/seed-1',
      'coordconv/seed-1',
      'sb3',
    ]);
    expect(readRunSeries(dirs, 'score', 'frames', ['a', 'b']).map((s) => s.label)).toEqual(['a', 'b']);
  });
});
