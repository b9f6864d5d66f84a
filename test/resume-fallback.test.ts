// Resume falls back over every part of a checkpoint (networks, optimizer, replay, state), sets
// unusable checkpoints aside instead of overwriting them, never mixes old and new curves, and a
// config.json that no longer fits its checkpoints is one error naming the field.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointName } from '../src/checkpoint/index.js';
import { readMetrics } from '../src/training/metrics.js';
import { type CliResult, coordrl, errorLines } from './helpers/cli.js';

const DQN = [
  '--env',
  'CartPole-v1',
  '--algo',
  'dqn',
  '--num-envs',
  '2',
  '--buffer-size',
  '2000',
  '--learning-starts',
  '600',
  '--checkpoint-every',
  '400',
  '--keep-checkpoints',
  '10',
  '--log-every',
  '200',
  '--no-progress',
];
const A2C = [
  '--env',
  'CartPole-v1',
  '--num-envs',
  '4',
  '--checkpoint-every',
  '400',
  '--log-every',
  '200',
  '--no-progress',
];

function train(flags: string[], steps: number): string {
  const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-fallback-')), 'run');
  const r = coordrl(['train', ...flags, '--steps', String(steps), '--run-dir', runDir]);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  return runDir;
}

function ckDir(runDir: string, step: number): string {
  return path.join(runDir, 'checkpoints', checkpointName(step));
}

/** Replaces a checkpoint file and updates its manifest, so that checksum verification passes. */
function rewrite(runDir: string, step: number, rel: string, data: Buffer | string): Buffer {
  const dir = ckDir(runDir, step);
  const bytes = Buffer.from(data);
  writeFileSync(path.join(dir, rel), bytes);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.files[rel] = { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return bytes;
}

function truncate(runDir: string, step: number, rel: string): Buffer {
  const full = readFileSync(path.join(ckDir(runDir, step), rel));
  return rewrite(runDir, step, rel, full.subarray(0, Math.floor(full.length / 2)));
}

function skipLines(r: CliResult): string[] {
  return r.stderr.filter((l) => /skip/.test(l));
}

function expectUniqueSteps(runDir: string): number[] {
  const steps = readMetrics(path.join(runDir, 'metrics.jsonl')).map((m) => m.step);
  expect(steps.length).toBeGreaterThan(0);
  expect(new Set(steps).size).toBe(steps.length);
  expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  return steps;
}

function editConfig(runDir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(runDir, 'config.json');
  const run = JSON.parse(readFileSync(file, 'utf8'));
  edit(run.config);
  writeFileSync(file, JSON.stringify(run));
}

describe('resume falls back over every part of a checkpoint', () => {
  it('truncated weights, broken model.json, truncated replay.bin: skipped once each, set aside, resumed from the good one', () => {
    const run = train(DQN, 1600);
    const weights = truncate(run, 1600, 'models/online/weights.bin');
    rewrite(run, 1200, 'models/target/model.json', '{"modelTopology": {"class_name": ');
    truncate(run, 800, 'replay.bin');
    const r = coordrl(['resume', run, '--steps', '2000', '--no-progress']);
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const skips = skipLines(r);
    expect(skips).toHaveLength(3);
    expect(skips[0]).toMatch(/^skipping checkpoint step-000001600: corrupt: models\/online: /);
    expect(skips[1]).toMatch(/^skipping checkpoint step-000001200: corrupt: models\/target: /);
    expect(skips[2]).toMatch(/^skipping checkpoint step-000000800: corrupt: replay: .*bytes/);
    for (const l of skips) expect(l).not.toMatch(/skipped|unexpected error/);
    expect(r.stderr.join('\n')).toMatch(/resuming from checkpoint step-000000400 \(step 400\)/);
    expect(r.stderr.join('\n')).toMatch(/moved 3 unusable checkpoint\(s\) to .*checkpoints\/corrupt/);
    // Set aside with their content, never overwritten by the new saves at the same steps.
    const aside = path.join(run, 'checkpoints', 'corrupt');
    expect(readFileSync(path.join(aside, checkpointName(1600), 'models/online/weights.bin')).equals(weights)).toBe(
      true,
    );
    expect(readFileSync(path.join(aside, `${checkpointName(800)}.reason.txt`), 'utf8')).toMatch(/^corrupt: replay: /);
    expect(existsSync(path.join(ckDir(run, 1600), 'manifest.json'))).toBe(true); // saved anew
    expect(expectUniqueSteps(run).at(-1)).toBe(2000);
  }, 180_000);

  it('state.json with steps "abc" and a truncated optimizer: restarts from 0, old curves and checkpoints kept aside', () => {
    const run = train(A2C, 800);
    const state = JSON.parse(readFileSync(path.join(ckDir(run, 800), 'state.json'), 'utf8'));
    state.counters.steps = 'abc';
    rewrite(run, 800, 'state.json', JSON.stringify(state));
    truncate(run, 400, 'optimizer.bin');
    const oldMetrics = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8');
    const r = coordrl(['resume', run, '--no-progress']);
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const skips = skipLines(r);
    expect(skips).toEqual([
      expect.stringMatching(/^skipping checkpoint step-000000800: corrupt: state\.json: 'counters\.steps': .*number/),
      expect.stringMatching(/^skipping checkpoint step-000000400: corrupt: optimizer: /),
    ]);
    const text = r.stderr.join('\n');
    expect(text).toMatch(
      /no good checkpoint: starting this run from the beginning; the old curves are kept as metrics\.before-restart-\d{8}-\d{6}\.jsonl/,
    );
    const kept = readdirSync(run).find((f) => /^metrics\.before-restart-.*\.jsonl$/.test(f));
    expect(readFileSync(path.join(run, kept as string), 'utf8')).toBe(oldMetrics);
    expect(expectUniqueSteps(run).at(-1)).toBe(800);
    expect(readdirSync(path.join(run, 'checkpoints', 'corrupt')).sort()).toEqual([
      `${checkpointName(400)}`,
      `${checkpointName(400)}.reason.txt`,
      `${checkpointName(800)}`,
      `${checkpointName(800)}.reason.txt`,
    ]);
    // eval needs a good checkpoint; corrupt ones alone are one line, exit 2
    const bare = train(A2C, 400);
    truncate(bare, 400, 'models/policy/weights.bin');
    const e = coordrl(['eval', bare, '--episodes', '1']);
    expect(e.code, e.stderr.join('\n')).toBe(2);
    expect(errorLines(e)).toEqual([
      expect.stringMatching(
        /^coordrl: .* has no good checkpoint to evaluate \(step-000000400: corrupt: models\/policy: /,
      ),
    ]);
  }, 180_000);
});

describe('resume refuses what does not fit', () => {
  it('config.json changed under its checkpoints (dueling, numEnvs, env) names the field; nothing moved', () => {
    const run = train(DQN, 400);
    const listing = () => readdirSync(path.join(run, 'checkpoints')).sort();
    const before = listing();
    for (const [edit, field] of [
      [(c: Record<string, unknown>) => (c.dueling = true), 'dueling'],
      [(c: Record<string, unknown>) => (c.numEnvs = 4), 'numEnvs'],
      [(c: Record<string, unknown>) => (c.env = 'Acrobot-v1'), 'env'],
    ] as const) {
      const saved = readFileSync(path.join(run, 'config.json'), 'utf8');
      editConfig(run, edit);
      const r = coordrl(['resume', run, '--no-progress']);
      expect(r.code, r.stderr.join('\n')).toBe(2);
      expect(errorLines(r)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^coordrl: config\\.json no longer matches checkpoint step-000000400: '${field}' is .* in config\\.json, .* in the checkpoint`,
          ),
        ),
      ]);
      expect(listing()).toEqual(before);
      writeFileSync(path.join(run, 'config.json'), saved);
    }
  }, 120_000);

  it('a wrong type in config.json names the field; budgets below the current step or given twice are refused', () => {
    const run = train(A2C, 800);
    const saved = readFileSync(path.join(run, 'config.json'), 'utf8');
    editConfig(run, (c) => {
      c.numEnvs = 'four';
    });
    const bad = coordrl(['resume', run]);
    expect(bad.code).toBe(2);
    expect(errorLines(bad)).toEqual([expect.stringMatching(/'config\.numEnvs': .*expected number/)]);
    writeFileSync(path.join(run, 'config.json'), saved);
    const low = coordrl(['resume', run, '--steps', '400', '--no-progress']);
    expect(low.code).toBe(2);
    expect(errorLines(low)).toEqual([
      expect.stringMatching(/--steps 400 is below the run's current step 800 \(checkpoint step-000000800\)/),
    ]);
    expect(readFileSync(path.join(run, 'config.json'), 'utf8')).toBe(saved);
    const both = coordrl(['resume', run, '--steps', '1000', '--frames', '1000']);
    expect(both.code).toBe(2);
    expect(errorLines(both)).toEqual([expect.stringMatching(/--frames and --steps both set the new budget/)]);
  }, 120_000);
});
