// The summary warns when an experiment's runs trained with different code (issue 24: a verdict
// must describe one code version), and the report names each run group's code and machine.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment } from '../src/experiments/manifest.js';
import { summarizeExperiment } from '../src/experiments/summary.js';
import { renderHtml } from '../src/report/html.js';
import { writeFinalScore } from './helpers/final-score.js';

function versions(commit: string | null, dirty = false) {
  return {
    coordrl: '0.1.0',
    node: '20',
    tfjs: '4.22.0',
    tensorflow: '2.21.0',
    backend: 'tensorflow',
    device: 'cpu',
    code: {
      version: '0.1.0',
      git: commit ? { commit, dirty, changedFiles: dirty ? 2 : 0 } : null,
      distSha256: 'ab'.repeat(32),
    },
    machine: { cpuModel: 'Test CPU', cores: 2, arch: 'x64', platform: 'linux', env: {} },
  };
}

function experiment(codeOf: (seed: number) => ReturnType<typeof versions>, wallOf?: (seed: number) => number): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-code-')), 'exp');
  const m = createExperiment(dir, {
    algo: 'a2c',
    envs: ['pong'],
    arms: parseArms('conv,coordconv', undefined),
    seeds: [1, 2, 3],
    evalEpisodes: 5,
    base: { steps: 1000 },
  });
  for (const run of m.runs) {
    const runDir = path.join(dir, run.dir);
    mkdirSync(runDir, { recursive: true });
    writeFinalScore(runDir, run.seed);
    writeFileSync(path.join(runDir, 'versions.json'), JSON.stringify(codeOf(run.seed)));
    if (wallOf) {
      const record = { step: 1000, frames: 4000, time: wallOf(run.seed), episodes: 3, score: 1 };
      writeFileSync(path.join(runDir, 'metrics.jsonl'), `${JSON.stringify(record)}\n`);
    }
  }
  return dir;
}

describe('code versions of an experiment', () => {
  it('says nothing when every run trained with one clean commit, and names it in the report', () => {
    const s = summarizeExperiment(
      experiment(() => versions('0123456789abcdef')),
      { reps: 100 },
    );
    expect(s.verdicts.join(' ')).not.toMatch(/Warning/);
    const html = renderHtml(s, new Map());
    expect(html).toContain('0123456789');
    expect(html).toContain('Test CPU, 2 cores');
  });

  it('warns when runs trained with different commits, naming how many runs each', () => {
    const s = summarizeExperiment(
      experiment((seed) => versions(seed === 3 ? 'fedcba9876543210' : '0123456789abcdef')),
      { reps: 100 },
    );
    const w = s.verdicts.find((v) => v.startsWith('Warning'));
    expect(w).toMatch(/2 different versions of the code/);
    expect(w).toMatch(/0123456789: 4 runs/);
    expect(w).toMatch(/fedcba9876: 2 runs/);
  });

  it('warns when runs trained from a dirty checkout', () => {
    const s = summarizeExperiment(
      experiment(() => versions('0123456789abcdef', true)),
      { reps: 100 },
    );
    expect(s.verdicts.find((v) => v.startsWith('Warning'))).toMatch(/uncommitted changes/);
  });

  it("gives the runs table's wall times one unit (no '80.1 s' beside '2.0 min')", () => {
    const s = summarizeExperiment(
      experiment(
        () => versions('0123456789abcdef'),
        (seed) => [80.1, 120, 95][seed - 1],
      ),
      { reps: 100 },
    );
    const html = renderHtml(s, new Map());
    expect(html).toContain('1.3 min');
    expect(html).toContain('2.0 min');
    expect(html).not.toContain('80.1 s');
  });
});
