// A damaged or hostile experiment on disk gets one line, never a stack trace, and never makes
// coordrl write outside the experiment: the manifest is validated with a schema (every run path
// inside EXP), a run that lost config.json is resumed from its checkpoints (never retrained over
// them), a checkpoint of another env is named as such, and env names are bounded.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint/checkpoint.js';
import { createExperiment, type ExperimentSpec, readManifest } from '../src/experiments/manifest.js';
import { type Launcher, runExperiment } from '../src/experiments/runner.js';
import { type CliResult, coordrl, errorLines } from './helpers/cli.js';

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-manifest-'));
}

const SPEC: ExperimentSpec = {
  algo: 'a2c',
  envs: ['CartPole-v1'],
  arms: [
    { name: 'a', fields: { torso: 'mlp' } },
    { name: 'b', fields: { torso: 'mlp', lr: 0.001 } },
  ],
  seeds: [1],
  evalEpisodes: 0,
  base: { steps: 1000 },
};

function newExperiment(): string {
  const exp = path.join(tmp(), 'exp');
  createExperiment(exp, SPEC);
  return exp;
}

function editManifest(exp: string, edit: (m: Record<string, unknown>) => void): void {
  const file = path.join(exp, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

function expectOneLine(r: CliResult, pattern: RegExp, code = 1): void {
  const lines = errorLines(r);
  expect(r.code, r.stderr.join('\n')).toBe(code);
  expect(lines, r.stderr.join('\n')).toHaveLength(1);
  expect(lines[0]).toMatch(/^coordrl: /);
  expect(lines[0]).not.toMatch(/unexpected error|\bat .*\.js:\d+/);
  expect(lines[0]).toMatch(pattern);
}

/** A launcher that records what it was asked and starts nothing. */
function recorder(calls: string[][]): Launcher {
  return (args) => {
    calls.push(args);
    return { done: Promise.resolve({ code: 1, signal: null, stdout: '', stderrTail: ['coordrl: fake'] }), kill() {} };
  };
}

describe('manifest validation', () => {
  it('a run dir of ../../x, an absolute path or .. in the config path: refused, nothing written outside', async () => {
    for (const [field, value] of [
      ['dir', '../../x'],
      ['dir', '/tmp/elsewhere'],
      ['configFile', 'configs/../../../y.json'],
      ['dir', 'runs/./..'],
    ] as const) {
      const exp = newExperiment();
      const outside = readdirSync(path.dirname(path.dirname(exp)));
      editManifest(exp, (m) => {
        (m.runs as Record<string, unknown>[])[0][field] = value;
      });
      expect(() => readManifest(exp), `${field}=${value}`).toThrow(
        new RegExp(
          `is not a valid A/B manifest: runs(\\[0\\]\\.${field}: must be a path inside|\\[0\\]\\.${field}: .* is not inside)`,
        ),
      );
      const calls: string[][] = [];
      await expect(
        runExperiment(exp, { parallel: 1, launcher: recorder(calls), statusEvery: 0, log: () => {} }),
      ).rejects.toThrow(/not a valid A\/B manifest/);
      expect(calls).toEqual([]);
      expect(readdirSync(path.dirname(path.dirname(exp)))).toEqual(outside);
    }
  });

  it('runs: [{}], null fields, arms or envs deleted: one line naming the field', () => {
    const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
      ['empty run', (m) => (m.runs = [{}]), /runs\[0\]\.id: .*; runs\[0\]\.game: .*\(and \d+ more\)/],
      ['null fields', (m) => ((m.runs as Record<string, unknown>[])[0].dir = null), /runs\[0\]\.dir: /],
      ['null seed', (m) => ((m.runs as Record<string, unknown>[])[1].seed = null), /runs\[1\]\.seed: /],
      ['no arms', (m) => delete m.arms, /: arms: /],
      ['no envs', (m) => delete m.envs, /: envs: /],
      [
        'a bad id',
        (m) => ((m.runs as Record<string, unknown>[])[0].id = '../../../etc/x'),
        /runs\[0\]\.id: must look like/,
      ],
    ];
    for (const [what, edit, pattern] of cases) {
      const exp = newExperiment();
      editManifest(exp, edit);
      expect(() => readManifest(exp), what).toThrow(pattern);
    }
  });

  it('ab --status, ab --resume and report on a manifest with runs: [{}]: one line each, exit 1', () => {
    const exp = newExperiment();
    editManifest(exp, (m) => (m.runs = [{}]));
    for (const args of [
      ['ab', '--status', exp],
      ['ab', '--resume', exp],
      ['ab', '--resume', exp, '--dry-run'],
      ['report', exp],
    ]) {
      expectOneLine(coordrl(args), /manifest\.json is not a valid A\/B manifest: runs\[0\]\.id: /);
    }
  });

  it('a run that lost config.json and final.json is resumed from its checkpoints, config rebuilt, saying so', async () => {
    const exp = newExperiment();
    const run = readManifest(exp).runs[0];
    const runDir = path.join(exp, run.dir);
    mkdirSync(runDir, { recursive: true });
    await saveCheckpoint(runDir, 500, async (dir) => writeFileSync(path.join(dir, 'state.json'), '{}'));
    const before = readdirSync(path.join(runDir, 'checkpoints'));
    const calls: string[][] = [];
    const logs: string[] = [];
    await runExperiment(exp, {
      parallel: 1,
      launcher: recorder(calls),
      statusEvery: 0,
      log: (l) => logs.push(l),
      only: run.id,
    });
    expect(calls).toEqual([['resume', runDir, '--json', '--no-progress']]);
    expect(logs.join('\n')).toMatch(
      new RegExp(
        `${run.id}: config.json was missing: rebuilt it from the experiment \\(configs/.*\\); resuming from its checkpoints`,
      ),
    );
    const rebuilt = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    expect(rebuilt.config).toEqual(JSON.parse(readFileSync(path.join(exp, run.configFile), 'utf8')));
    expect(rebuilt).toMatchObject({ budgetSteps: 1000, frameSkip: 1 });
    expect(readdirSync(path.join(runDir, 'checkpoints'))).toEqual(before);
  });

  it('train into a directory with checkpoints but no config.json is refused (exit 2), the checkpoints kept', async () => {
    const runDir = path.join(tmp(), 'R');
    mkdirSync(runDir);
    await saveCheckpoint(runDir, 500, async (dir) => writeFileSync(path.join(dir, 'state.json'), '{}'));
    expectOneLine(
      coordrl(['train', '--env', 'CartPole-v1', '--no-progress', '--run-dir', runDir]),
      /has checkpoints but no config.json; a new run there would overwrite them/,
      2,
    );
    expect(existsSync(path.join(runDir, 'config.json'))).toBe(false);
  });

  it('a 300-character env name: refused by train, train --dry-run and ab --dry-run alike', () => {
    const env = `${'x'.repeat(296)}-v1`;
    const dir = tmp();
    const arms = path.join(dir, 'arms.yaml');
    writeFileSync(arms, 'arms: [{name: a, torso: mlp}, {name: b, torso: mlp, lr: 0.001}]\n');
    for (const args of [
      ['train', '--env', env, '--no-progress', '--dry-run'],
      ['train', '--env', env, '--no-progress', '--run-dir', path.join(dir, 'r')],
      ['ab', '--envs', env, '--arms-file', arms, '--out', path.join(dir, 'e'), '--dry-run'],
      ['ab', '--envs', env, '--arms-file', arms, '--out', path.join(dir, 'e')],
    ]) {
      const r = coordrl(args);
      const lines = errorLines(r);
      expect(r.code, r.stderr.join('\n')).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/'env': an environment name has at most 100 characters/);
      expect(lines.join('\n')).not.toMatch(/ENAMETOOLONG|\bat .*\.js:\d+/);
    }
  });

  it('eval after the env in config.json was changed: one line saying the checkpoint does not match', () => {
    const runDir = path.join(tmp(), 'R');
    const r0 = coordrl([
      'train',
      '--algo',
      'a2c',
      '--env',
      'CartPole-v1',
      '--steps',
      '400',
      '--num-envs',
      '2',
      '--no-progress',
      '--run-dir',
      runDir,
    ]);
    expect(r0.code, r0.stderr.join('\n')).toBe(0);
    const file = path.join(runDir, 'config.json');
    const run = JSON.parse(readFileSync(file, 'utf8'));
    run.config.env = 'Acrobot-v1';
    writeFileSync(file, JSON.stringify(run));
    expectOneLine(
      coordrl(['eval', runDir, '--episodes', '1', '--num-envs', '1']),
      /checkpoint step-0+400 does not match .*config\.json: 'env' is "Acrobot-v1" in config\.json, "CartPole-v1" in the checkpoint/,
      2,
    );
  });

  it('report on a full disk: one line (ENOSPC), no stack trace', () => {
    const src = newExperiment();
    const exp = path.join(tmp(), 'full');
    mkdirSync(exp);
    // A private 64 KiB tmpfs over `exp`, holding a copy of the experiment, then filled up.
    const prefix = [
      'unshare',
      '-rm',
      'sh',
      '-c',
      'mount -t tmpfs -o size=64k tmpfs "$0" && cp -r "$1"/. "$0" && (dd if=/dev/zero of="$0/fill" bs=1k 2>/dev/null; true) && shift && exec "$@"',
      exp,
      src,
    ];
    expectOneLine(coordrl(['report', exp], { prefix }), /cannot write.*: no space left on the device \(ENOSPC\)$/);
  });
});
