// coordrl ab: arms parsing and validation, the experiment manifest, the runner's bookkeeping
// (resume never repeats what is done, paired seeds, stops), the summary on synthetic run
// directories, and the verdict's wording. Child processes are replaced by a fake launcher that
// writes what `coordrl train|resume|eval` would (real run files and real verified checkpoints).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { listCheckpoints, saveCheckpoint } from '../src/checkpoint/checkpoint.js';
import { registerAb } from '../src/commands/ab.js';
import { armRunConfig, configDiff, gameSlug, parseArms, parseEnvs, parseSeeds } from '../src/experiments/arms.js';
import {
  createExperiment,
  type ExperimentSpec,
  FINAL_FILE,
  type FinalFile,
  planRuns,
  readManifest,
} from '../src/experiments/manifest.js';
import { type ChildResult, type Launcher, runExperiment, Stopper } from '../src/experiments/runner.js';
import { interpolate, meanCurve, summarizeExperiment, verdict } from '../src/experiments/summary.js';
import type { RunConfig } from '../src/run-config.js';
import { iqm } from '../src/stats/aggregate.js';
import { humanNormalized } from '../src/stats/atari-scores.js';
import { minatarNormalized } from '../src/stats/minatar-scores.js';
import { UsageError } from '../src/util/cli-errors.js';

function tmp(prefix = 'coordrl-ab-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

function file(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const SPEC: ExperimentSpec = {
  algo: 'a2c',
  envs: ['pong', 'breakout'],
  arms: parseArms('conv,coordconv', undefined),
  seeds: [1, 2, 3],
  evalEpisodes: 5,
  base: { steps: 1000, logEvery: 250 },
};

// ---------------------------------------------------------------------------------------------
// A fake `coordrl` child: train/resume write config.json, metrics.jsonl and a real checkpoint;
// eval prints an evaluation whose score depends on the run's seed and arm.

interface FakeOptions {
  /** Step at which a train/resume of this run stops as if signalled (exit 130); null: budget. */
  stopAt?: (runDir: string, from: number) => number | null;
  evalExit?: (runDir: string) => number;
  trainExit?: (runDir: string) => number;
  /** Train children wait for a kill, then save half the budget and exit 130. */
  hang?: boolean;
}

function fakeScore(config: RunConfig): number {
  return 10 * config.seed + (config.torso === 'coordconv' ? 3 : 0);
}

async function writeCheckpoint(runDir: string, step: number): Promise<void> {
  await saveCheckpoint(runDir, step, async (dir) => writeFileSync(path.join(dir, 'state.json'), '{}'));
}

function readRun(runDir: string): { config: RunConfig; budgetSteps: number } {
  return JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8'));
}

function fakeLauncher(calls: string[][], opts: FakeOptions = {}): Launcher & { kills: NodeJS.Signals[] } {
  const kills: NodeJS.Signals[] = [];
  const launcher: Launcher = (args: string[]) => {
    calls.push(args);
    let onKill: (() => void) | null = null;
    let killed = false; // a kill may come before the fake run reaches its wait, as for a real child
    const done = (async (): Promise<ChildResult> => {
      const ok = (stdout: unknown, code = 0): ChildResult => ({
        code,
        signal: null,
        stdout: JSON.stringify(stdout),
        stderrTail: [],
      });
      const cmd = args[0];
      const runDir = cmd === 'train' ? args[args.indexOf('--run-dir') + 1] : args[1];
      if (cmd === 'train') {
        const config = JSON.parse(readFileSync(args[args.indexOf('--config') + 1], 'utf8')) as RunConfig;
        const code = opts.trainExit?.(runDir) ?? 0;
        if (code === 2)
          return { code: 2, signal: null, stdout: '', stderrTail: ["coordrl: invalid configuration: 'lr': bad"] };
        mkdirSync(runDir, { recursive: true });
        writeFileSync(
          path.join(runDir, 'config.json'),
          JSON.stringify({ coordrl: 'test', createdAt: '', config, budgetSteps: config.steps, frameSkip: 4 }),
        );
        if (code !== 0) return { code, signal: null, stdout: '', stderrTail: ['coordrl: the env server died'] };
      }
      if (cmd === 'train' || cmd === 'resume') {
        const { config, budgetSteps } = readRun(runDir);
        const from = (await listCheckpoints(runDir)).at(-1)?.step ?? 0;
        if (opts.hang) {
          await new Promise<void>((resolve) => {
            onKill = resolve;
            if (killed) resolve();
          });
          await writeCheckpoint(runDir, budgetSteps / 2);
          return { code: 130, signal: null, stdout: '', stderrTail: [] };
        }
        const stop = opts.stopAt?.(runDir, from) ?? null;
        const to = stop ?? budgetSteps;
        for (let s = from + config.logEvery; s <= to; s += config.logEvery) {
          writeFileSync(
            path.join(runDir, 'metrics.jsonl'),
            `${JSON.stringify({ step: s, frames: 4 * s, time: 0, score: s / 100 })}\n`,
            { flag: 'a' },
          );
        }
        await writeCheckpoint(runDir, to);
        return ok(
          { stopReason: stop === null ? 'budget' : 'signal', steps: to, meanScore: to / 100 },
          stop === null ? 0 : 130,
        );
      }
      if (cmd === 'eval') {
        const code = opts.evalExit?.(runDir) ?? 0;
        if (code !== 0) return { code, signal: null, stdout: '', stderrTail: ['coordrl: no good checkpoint'] };
        const { config, budgetSteps } = readRun(runDir);
        const episodes = Number(args[args.indexOf('--episodes') + 1]);
        const s = fakeScore(config);
        return ok({
          checkpointStep: budgetSteps,
          episodes,
          scores: Array(episodes).fill(s),
          mean: s,
          median: s,
          min: s,
          max: s,
        });
      }
      throw new Error(`fake coordrl: unexpected ${args.join(' ')}`);
    })();
    return {
      done,
      kill: (sig: NodeJS.Signals) => {
        kills.push(sig);
        killed = true;
        onKill?.();
      },
    };
  };
  return Object.assign(launcher, { kills });
}

const quiet = { log: () => {}, statusEvery: 0, handleSignals: false };

// ---------------------------------------------------------------------------------------------

describe('arms, envs and seeds', () => {
  it('reads the torso shorthand, with conv as the baseline by default', () => {
    expect(parseArms(undefined, undefined)).toEqual([
      { name: 'conv', fields: { torso: 'conv' } },
      { name: 'coordconv', fields: { torso: 'coordconv' } },
    ]);
    expect(() => parseArms('conv,cc-r', undefined)).toThrow(/unknown arm 'cc-r'.*arms file/);
    expect(() => parseArms('conv', undefined)).toThrow(/at least two arms/);
    expect(() => parseArms('conv,conv', undefined)).toThrow(/two arms are named 'conv'/);
  });

  it('reads arms files (YAML list or mapping, JSON) and picks arms by name', () => {
    const dir = tmp();
    const yaml = file(
      dir,
      'arms.yaml',
      'arms:\n  - {name: conv, torso: conv}\n  - {name: cc-r, torso: coordconv, withR: true}\n  - {name: cc-all, torso: coordconv, coordconvAt: all}\n',
    );
    expect(parseArms(undefined, yaml).map((a) => a.name)).toEqual(['conv', 'cc-r', 'cc-all']);
    expect(parseArms('cc-all,conv', yaml)).toEqual([
      { name: 'cc-all', fields: { torso: 'coordconv', coordconvAt: 'all' } },
      { name: 'conv', fields: { torso: 'conv' } },
    ]);
    const list = file(dir, 'list.yml', '- name: a\n  lr: 0.001\n- name: b\n  lr: 0.002\n');
    expect(parseArms(undefined, list)[1]).toEqual({ name: 'b', fields: { lr: 0.002 } });
    const json = file(dir, 'arms.json', JSON.stringify([{ name: 'a' }, { name: 'b', entCoef: 0 }]));
    expect(parseArms(undefined, json)[1].fields).toEqual({ entCoef: 0 });
    expect(() => parseArms('conv,nope', yaml)).toThrow(/'nope' is not defined in .*arms.yaml/);
  });

  it('names what is wrong in an arms file', () => {
    const dir = tmp();
    const cases: [string, RegExp][] = [
      ['arms: [{name: a, with_r: true}, {name: b}]', /arm 'a' has an unknown field 'with_r'/],
      ['arms: [{name: a, seed: 3}, {name: b}]', /arm 'a' sets 'seed': seeds are set by the experiment/],
      ['arms: [{name: a, env: pong}, {name: b}]', /arm 'a' sets 'env'/],
      ['arms: [{torso: conv}, {name: b}]', /arm 1 needs a 'name'/],
      ['arms: [{name: "a/b"}, {name: b}]', /arm name 'a\/b' must be/],
      ['arms: []', /non-empty list of arms/],
      ['arms: [{name: a}]\nseeds: 3', /unknown top-level field 'seeds'/],
      ['arms: [{name: a}, {name: b}', /is not valid YAML/],
    ];
    for (const [text, re] of cases) expect(() => parseArms(undefined, file(dir, 'bad.yaml', text)), text).toThrow(re);
    expect(() => parseArms(undefined, path.join(dir, 'missing.yaml'))).toThrow(/cannot read/);
  });

  it('validates each arm with the run-config schema, naming the arm and the field', () => {
    const arm = (fields: Record<string, unknown>) => ({ name: 'x', fields });
    const base = { algo: 'a2c' };
    expect(() => armRunConfig({ base, arm: arm({ lr: 'fast' }), env: 'pong', seed: 1 })).toThrow(UsageError);
    expect(() => armRunConfig({ base, arm: arm({ lr: 'fast' }), env: 'pong', seed: 1 })).toThrow(
      /arm 'x' on pong: .*'lr'/,
    );
    expect(() => armRunConfig({ base, arm: arm({ torso: 'resnet' }), env: 'pong', seed: 1 })).toThrow(
      /arm 'x'.*'torso'/,
    );
    expect(() => armRunConfig({ base, arm: arm({ bufferSize: 10 }), env: 'pong', seed: 1 })).toThrow(
      /arm 'x'.*--buffer-size is a dqn setting/,
    );
    expect(() => armRunConfig({ base, arm: arm({ torso: 'conv' }), env: 'CartPole-v1', seed: 1 })).toThrow(
      /torso conv needs image observations.*CartPole-v1/,
    );
    expect(() => armRunConfig({ base, arm: arm({ torso: 'mlp' }), env: 'pong', seed: 1 })).toThrow(/torso mlp/);
    const c = armRunConfig({
      base: { ...base, lr: 1e-3 },
      arm: arm({ withR: true, torso: 'coordconv' }),
      env: 'pong',
      seed: 4,
    });
    expect(c).toMatchObject({ algo: 'a2c', env: 'pong', seed: 4, lr: 1e-3, withR: true, torso: 'coordconv' });
  });

  it('reads envs and seeds', () => {
    expect(parseEnvs('pong, breakout,ALE/MsPacman-v5')).toEqual(['pong', 'breakout', 'ALE/MsPacman-v5']);
    expect(gameSlug('ALE/MsPacman-v5')).toBe('ALE-MsPacman-v5');
    expect(() => parseEnvs('pong,pong')).toThrow(/same game/);
    expect(() => parseEnvs(' , ')).toThrow(/at least one game/);
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
    expect(parseSeeds('0,7,2')).toEqual([0, 7, 2]);
    expect(() => parseSeeds('0')).toThrow(/--seeds/);
    expect(() => parseSeeds('1,x')).toThrow(/'x' is not a seed/);
    expect(() => parseSeeds('1,1')).toThrow(/listed twice/);
  });
});

describe('experiment manifest', () => {
  it('pairs seeds: both arms of a seed get the same seed and env, differing only in the arm fields', () => {
    const plan = planRuns(SPEC);
    expect(plan).toHaveLength(2 * 2 * 3);
    // Seed-major: every game and arm of seed 1 first.
    expect(plan.slice(0, 4).map((p) => p.run.id)).toEqual([
      'pong/conv/seed-1',
      'pong/coordconv/seed-1',
      'breakout/conv/seed-1',
      'breakout/coordconv/seed-1',
    ]);
    for (const seed of SPEC.seeds) {
      for (const env of SPEC.envs) {
        const [a, b] = SPEC.arms.map((arm) =>
          plan.find((p) => p.run.seed === seed && p.run.env === env && p.run.arm === arm.name),
        );
        expect(a?.config.seed).toBe(seed);
        expect(b?.config.seed).toBe(seed);
        expect(
          configDiff([
            { arm: 'conv', config: a?.config as RunConfig },
            { arm: 'coordconv', config: b?.config as RunConfig },
          ]),
        ).toEqual([{ field: 'torso', values: { conv: 'conv', coordconv: 'coordconv' } }]);
      }
    }
  });

  it('writes the manifest and one resolved config per run, and refuses to overwrite an experiment', () => {
    const dir = path.join(tmp(), 'exp');
    const m = createExperiment(dir, SPEC);
    const back = readManifest(dir);
    expect(back.runs.map((r) => r.id)).toEqual(m.runs.map((r) => r.id));
    expect(back.runs.every((r) => r.status === 'pending')).toBe(true);
    const cfg = JSON.parse(readFileSync(path.join(dir, back.runs[1].configFile), 'utf8'));
    expect(cfg).toMatchObject({ env: 'pong', torso: 'coordconv', seed: 1, steps: 1000 });
    expect(() => createExperiment(dir, SPEC)).toThrow(/already holds an experiment.*--resume/);
    expect(() => readManifest(tmp())).toThrow(/not an A\/B experiment/);
  });
});

describe('experiment runner', () => {
  it('trains and evaluates every run, K at a time, and a resume repeats nothing', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, SPEC);
    const calls: string[][] = [];
    const r = await runExperiment(dir, { ...quiet, parallel: 3, launcher: fakeLauncher(calls) });
    expect(r.done).toBe(12);
    expect(r.interrupted).toBe(false);
    expect(r.failed).toEqual([]);
    expect(r.launches.filter((l) => l.stage === 'train')).toHaveLength(12);
    expect(r.launches.filter((l) => l.stage === 'eval')).toHaveLength(12);
    expect(calls.find((c) => c[0] === 'eval')).toEqual(expect.arrayContaining(['--episodes', '5', '--json']));
    expect(calls.find((c) => c[0] === 'train')).toEqual(expect.arrayContaining(['--json', '--no-progress']));
    const m = readManifest(dir);
    for (const run of m.runs) {
      expect(run.status).toBe('done');
      expect(run.steps).toBe(1000);
      const final = JSON.parse(readFileSync(path.join(dir, run.dir, FINAL_FILE), 'utf8')) as FinalFile;
      expect(final.source).toBe('eval');
      expect(final.score).toBe(10 * run.seed + (run.arm === 'coordconv' ? 3 : 0));
      expect(final.eval?.episodes).toBe(5);
      expect(final.trainScore).toBe(10);
      expect(run.finalScore).toBe(final.score);
    }
    const again: string[][] = [];
    const r2 = await runExperiment(dir, { ...quiet, parallel: 2, launcher: fakeLauncher(again) });
    expect(again).toEqual([]);
    expect(r2.launches).toEqual([]);
    expect(r2.done).toBe(12);
  });

  it('resumes an interrupted run from its checkpoint and only evaluates a trained one', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, { ...SPEC, envs: ['pong'], seeds: [1, 2] });
    const calls: string[][] = [];
    // pong/coordconv/seed-2 is stopped at step 500; pong/conv/seed-1's evaluation fails.
    const r = await runExperiment(dir, {
      ...quiet,
      parallel: 1,
      launcher: fakeLauncher(calls, {
        stopAt: (d, from) => (d.endsWith('coordconv/seed-2') && from === 0 ? 500 : null),
        evalExit: (d) => (d.endsWith('pong/conv/seed-1') ? 1 : 0),
      }),
    });
    expect(r.done).toBe(2);
    let m = readManifest(dir);
    const byId = (id: string) => m.runs.find((x) => x.id === id);
    expect(byId('pong/coordconv/seed-2')).toMatchObject({ status: 'interrupted', steps: 500 });
    expect(byId('pong/conv/seed-1')).toMatchObject({ status: 'failed', steps: 1000 });
    expect(byId('pong/conv/seed-1')?.error).toMatch(/eval: no good checkpoint/);
    expect(r.failed.map((f) => f.id)).toEqual(['pong/conv/seed-1']);

    const again: string[][] = [];
    const r2 = await runExperiment(dir, { ...quiet, parallel: 2, launcher: fakeLauncher(again) });
    // Two runs at once: their launches interleave in any order, but each run's own stages are ordered.
    const stagesOf = (run: string) => r2.launches.filter((l) => l.run === run).map((l) => l.stage);
    expect(r2.launches).toHaveLength(3);
    expect(stagesOf('pong/conv/seed-1')).toEqual(['eval']);
    expect(stagesOf('pong/coordconv/seed-2')).toEqual(['resume', 'eval']);
    expect(again.find((c) => c[0] === 'resume')?.[1]).toBe(path.join(dir, 'runs/pong/coordconv/seed-2'));
    m = readManifest(dir);
    expect(m.runs.every((x) => x.status === 'done')).toBe(true);
    expect(byId('pong/coordconv/seed-2')?.trainLaunches).toBe(2);
    // The resumed curve continues where the first part stopped: no duplicate steps.
    const steps = readFileSync(path.join(dir, 'runs/pong/coordconv/seed-2/metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([250, 500, 750, 1000]);
    expect(r2.done).toBe(4);
  });

  it('uses the last training window when --eval-episodes is 0, and says so', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, { ...SPEC, envs: ['pong'], seeds: [1], evalEpisodes: 0 });
    const r = await runExperiment(dir, { ...quiet, parallel: 2, launcher: fakeLauncher([]) });
    expect(r.launches.map((l) => l.stage)).toEqual(['train', 'train']);
    const final = JSON.parse(readFileSync(path.join(dir, 'runs/pong/conv/seed-1', FINAL_FILE), 'utf8')) as FinalFile;
    expect(final).toMatchObject({ source: 'train-window', score: 10, eval: null });
    const s = summarizeExperiment(dir, { reps: 200 });
    expect(s.scores.source).toBe('train-window');
    expect(s.scores.note).toMatch(/last 100 training episodes/);
  });

  it('records a failed training run, goes on with the others, and retries it on resume', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, { ...SPEC, envs: ['pong'], seeds: [1] });
    const r = await runExperiment(dir, {
      ...quiet,
      parallel: 1,
      launcher: fakeLauncher([], { trainExit: (d) => (d.endsWith('conv/seed-1') && !d.includes('coordconv') ? 1 : 0) }),
    });
    expect(r.failed.map((f) => [f.id, f.error])).toEqual([['pong/conv/seed-1', 'train: the env server died']]);
    expect(r.done).toBe(1);
    const r2 = await runExperiment(dir, { ...quiet, parallel: 1, launcher: fakeLauncher([]) });
    // config.json was written before the failure: the retry resumes the run.
    expect(r2.launches).toEqual([
      { run: 'pong/conv/seed-1', stage: 'resume' },
      { run: 'pong/conv/seed-1', stage: 'eval' },
    ]);
    expect(r2.done).toBe(2);
  });

  it('fails only the run whose evaluation exits 2 (e.g. no good checkpoint left), and goes on', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, { ...SPEC, envs: ['pong'], seeds: [1] });
    const r = await runExperiment(dir, {
      ...quiet,
      parallel: 1,
      launcher: fakeLauncher([], { evalExit: (d) => (d.includes('coordconv') ? 2 : 0) }),
    });
    expect(r.failed.map((f) => [f.id, f.error])).toEqual([['pong/coordconv/seed-1', 'eval: no good checkpoint']]);
    expect(r.done).toBe(1);
  });

  it('stops at a configuration error of a child (exit 2) with its message', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, { ...SPEC, envs: ['pong'], seeds: [1, 2] });
    const calls: string[][] = [];
    await expect(
      runExperiment(dir, { ...quiet, parallel: 1, launcher: fakeLauncher(calls, { trainExit: () => 2 }) }),
    ).rejects.toThrow(/pong\/conv\/seed-1 \(train\): invalid configuration: 'lr': bad/);
    expect(calls).toHaveLength(1);
  });

  it('on a stop, SIGTERMs the running children, starts nothing new, and leaves them resumable', async () => {
    const dir = path.join(tmp(), 'exp');
    createExperiment(dir, SPEC);
    const calls: string[][] = [];
    const launcher = fakeLauncher(calls, { hang: true });
    const stopper = new Stopper();
    const running = runExperiment(dir, { ...quiet, parallel: 2, launcher, stopper });
    await vi.waitFor(() => expect(calls).toHaveLength(2), { timeout: 10_000 }); // a loaded machine is slow to start two
    stopper.stop();
    const r = await running;
    expect(launcher.kills).toEqual(['SIGTERM', 'SIGTERM']);
    expect(r.interrupted).toBe(true);
    expect(calls).toHaveLength(2);
    const m = readManifest(dir);
    expect(m.runs.filter((x) => x.status === 'interrupted').map((x) => [x.id, x.steps])).toEqual([
      ['pong/conv/seed-1', 500],
      ['pong/coordconv/seed-1', 500],
    ]);
    expect(m.runs.filter((x) => x.status === 'pending')).toHaveLength(10);
  });
});

// ---------------------------------------------------------------------------------------------
// Summary on synthetic run directories

interface SynthRun {
  score?: number;
  /** Scores logged at frames 4000, 8000, ...; default a line through the final score. */
  curve?: number[];
  /** The training-window score recorded beside an evaluated final score (default none). */
  trainScore?: number;
}

/** An experiment on disk as if run: config.json, metrics.jsonl and final.json per run. */
function synthExperiment(
  spec: ExperimentSpec,
  runs: (game: string, arm: string, seed: number) => SynthRun | null,
): string {
  const dir = path.join(tmp('coordrl-ab-synth-'), 'exp');
  const m = createExperiment(dir, spec);
  for (const run of m.runs) {
    const s = runs(run.game, run.arm, run.seed);
    if (!s) continue;
    const runDir = path.join(dir, run.dir);
    const config = JSON.parse(readFileSync(path.join(dir, run.configFile), 'utf8'));
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ config, budgetSteps: 4000, frameSkip: 4 }));
    const curve = s.curve ?? [1, 2, 3, 4].map((i) => ((s.score ?? 0) * i) / 4);
    writeFileSync(
      path.join(runDir, 'metrics.jsonl'),
      curve
        .map((v, i) => JSON.stringify({ step: 1000 * (i + 1), frames: 4000 * (i + 1), time: 0, score: v }))
        .join('\n'),
    );
    if (s.score !== undefined) {
      const final: FinalFile = {
        coordrl: 'test',
        createdAt: '',
        source: 'eval',
        score: s.score,
        checkpointStep: 1000,
        eval: null,
        trainScore: s.trainScore ?? null,
      };
      writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify(final));
    }
  }
  return dir;
}

describe('experiment summary', () => {
  const PONG = { conv: [-20, -19, -18, -17], coordconv: [-15, -12, -10, -9] };
  const BREAKOUT = { conv: [5, 6, 7, 8], coordconv: [6, 6, 9, 12] };
  const spec4 = { ...SPEC, seeds: [1, 2, 3, 4] };

  it('gives per-game scores, human-normalised aggregates and comparisons', () => {
    const dir = synthExperiment(spec4, (game, arm, seed) => ({
      score: (game === 'pong' ? PONG : BREAKOUT)[arm as 'conv' | 'coordconv'][seed - 1],
    }));
    const s = summarizeExperiment(dir, { reps: 500 });
    expect(s.progress).toEqual({ total: 16, done: 16, missing: [] });
    expect(s.normalization.kind).toBe('human');
    const pong = s.games.find((g) => g.game === 'pong');
    expect(pong?.arms[0]).toMatchObject({
      arm: 'conv',
      n: 4,
      planned: 4,
      mean: -18.5,
      median: -18.5,
      min: -20,
      max: -17,
    });
    expect(pong?.arms[1].runs.map((r) => [r.seed, r.score])).toEqual([
      [1, -15],
      [2, -12],
      [3, -10],
      [4, -9],
    ]);
    expect(pong?.arms[0].runs[0].normalized).toBeCloseTo(humanNormalized('pong', -20) as number, 12);
    expect(pong?.comparisons[0]).toMatchObject({ a: 'conv', b: 'coordconv', higher: 'b' });
    // Aggregates are over human-normalised scores of both games.
    const hns = (arm: 'conv' | 'coordconv') => [
      ...PONG[arm].map((x) => humanNormalized('pong', x) as number),
      ...BREAKOUT[arm].map((x) => humanNormalized('breakout', x) as number),
    ];
    const agg = s.aggregate;
    expect(agg?.games).toEqual(['pong', 'breakout']);
    expect(agg?.arms[0].iqm.estimate).toBeCloseTo(iqm(hns('conv')), 12);
    expect(agg?.arms[1].iqm.estimate).toBeCloseTo(iqm(hns('coordconv')), 12);
    const c = s.comparisons[0];
    expect(c.iqmDiff.estimate).toBeCloseTo(iqm(hns('coordconv')) - iqm(hns('conv')), 12);
    expect(c.iqmDiff.lo).toBeLessThanOrEqual(c.iqmDiff.estimate);
    expect(c.iqmDiff.hi).toBeGreaterThanOrEqual(c.iqmDiff.estimate);
    expect(c).toMatchObject({ games: 2, gamesBetter: 2, gamesWorse: 0, gamesTied: 0, runsPerArm: { min: 4, max: 4 } });
    // Pong: coordconv wins all 16 pairs; breakout: counted here. P(B > A) is the mean over games.
    let wins = 0;
    for (const a of BREAKOUT.conv) for (const b of BREAKOUT.coordconv) wins += b > a ? 1 : b === a ? 0.5 : 0;
    expect(c.poi.estimate).toBeCloseTo((1 + wins / 16) / 2, 12);
    expect(s.verdicts[0]).toBe(c.verdict);
    expect(s.configDiff).toEqual([{ field: 'torso', values: { conv: 'conv', coordconv: 'coordconv' } }]);
    expect(agg?.profile.taus).toHaveLength(41);
    expect(agg?.profile.arms[0].points[0].estimate).toBeLessThanOrEqual(1);
    // Deterministic: the same numbers twice.
    expect(summarizeExperiment(dir, { reps: 500 }).comparisons).toEqual(s.comparisons);
  });

  it('--score train: the statistics use the training-window scores beside the evaluated ones, and say so', () => {
    // Evaluation says conv is better, the training windows say coordconv is: the choice must show.
    const dir = synthExperiment(spec4, (_game, arm, seed) => ({
      score: arm === 'conv' ? 10 + seed : 1 + seed,
      trainScore: arm === 'conv' ? 2 + seed : 20 + seed,
    }));
    const byEval = summarizeExperiment(dir, { reps: 200 });
    const byTrain = summarizeExperiment(dir, { reps: 200, score: 'train' });
    expect(byEval.scores.source).toBe('eval');
    expect(byTrain.scores.source).toBe('train-window');
    expect(byTrain.scores.note).toMatch(/last 100 training episodes/);
    const pong = (s: typeof byEval) => s.games.find((g) => g.game === 'pong');
    expect(pong(byEval)?.arms.map((a) => a.mean)).toEqual([12.5, 3.5]);
    expect(pong(byTrain)?.arms.map((a) => a.mean)).toEqual([4.5, 22.5]);
    expect(pong(byTrain)?.comparisons[0].higher).toBe('b');
    expect(byTrain.runs.every((r) => r.status === 'done')).toBe(true);
    // A run finished without a recorded training score is missing from the train summary, not zero.
    const runDir = path.join(dir, readManifest(dir).runs[0].dir);
    const final = JSON.parse(readFileSync(path.join(runDir, FINAL_FILE), 'utf8'));
    writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify({ ...final, trainScore: null }));
    const partly = summarizeExperiment(dir, { reps: 200, score: 'train' });
    expect(partly.progress.done).toBe(15);
    expect(partly.progress.missing[0].detail).toMatch(/without a training-window score/);
  });

  it('averages learning curves on a common frames grid with a bootstrap band', () => {
    const dir = synthExperiment({ ...spec4, envs: ['pong'] }, (_g, arm, seed) => ({
      score: 0,
      curve: [1, 2, 3, 4].map((i) => i + seed + (arm === 'coordconv' ? 10 : 0)),
    }));
    const s = summarizeExperiment(dir, { reps: 300, gridPoints: 5 });
    const conv = s.games[0].curves[0].points;
    // Grid 0, 4000, ..., 16000; frame 0 is before the first logged point, so it is left out.
    expect(conv.map((p) => p.frames)).toEqual([4000, 8000, 12000, 16000]);
    expect(conv.map((p) => p.mean)).toEqual([3.5, 4.5, 5.5, 6.5]);
    expect(conv.every((p) => p.n === 4 && p.lo <= p.mean && p.hi >= p.mean && p.hi > p.lo)).toBe(true);
    expect(s.games[0].curves[1].points[0].mean).toBe(13.5);
  });

  it('interpolates within a curve and never extrapolates', () => {
    const c = { frames: [10, 20, 40], score: [1, 3, 5] };
    expect(interpolate(c, 10)).toBe(1);
    expect(interpolate(c, 15)).toBe(2);
    expect(interpolate(c, 30)).toBe(4);
    expect(interpolate(c, 40)).toBe(5);
    expect(interpolate(c, 5)).toBeNull();
    expect(interpolate(c, 41)).toBeNull();
    const pts = meanCurve([c, { frames: [10, 20], score: [3, 5] }], [10, 20, 40], 100, 0);
    expect(pts.map((p) => [p.frames, p.mean, p.n])).toEqual([
      [10, 2, 2],
      [20, 4, 2],
      [40, 5, 1],
    ]);
    expect(pts[2]).toMatchObject({ lo: 5, hi: 5 });
  });

  it('works on a partly finished experiment: lists what is missing and aggregates complete games only', () => {
    const dir = synthExperiment({ ...spec4, seeds: [1, 2, 3] }, (game, arm, seed) => {
      if (game === 'breakout' && arm === 'coordconv') return seed === 1 ? { curve: [1, 2] } : null; // none finished
      if (game === 'pong' && arm === 'conv' && seed === 3) return null;
      return { score: (game === 'pong' ? PONG : BREAKOUT)[arm as 'conv' | 'coordconv'][seed - 1] };
    });
    const s = summarizeExperiment(dir, { reps: 300 });
    expect(s.progress.done).toBe(12 - 4);
    expect(s.progress.missing.map((m) => [m.id, m.status])).toEqual([
      ['breakout/coordconv/seed-1', 'partial'],
      ['breakout/coordconv/seed-2', 'not started'],
      ['pong/conv/seed-3', 'not started'],
      ['breakout/coordconv/seed-3', 'not started'],
    ]);
    expect(s.progress.missing[0].detail).toBe('trained 2,000 of 4,000 steps');
    expect(s.aggregate?.games).toEqual(['pong']);
    expect(s.aggregate?.excluded).toEqual([{ game: 'breakout', reason: 'no final score yet for coordconv' }]);
    expect(s.comparisons[0].runsPerArm).toEqual({ min: 2, max: 3 });
    expect(s.verdicts[0]).toMatch(/inconclusive: only 2-3 runs per arm/);
    expect(s.verdicts[0]).toMatch(/Based on 8 of 12 runs; 4 missing\.$/);
    expect(s.verdicts[1]).toMatch(/^Not in the aggregate yet: breakout/);
    expect(s.games[1].arms[1]).toMatchObject({ n: 0, planned: 3, mean: null });
    expect(s.games[1].curves[1].points.length).toBeGreaterThan(0);
  });

  it("reference-normalises MinAtar games (random = 0, the paper's DQN = 1) and says so", () => {
    const env = ['minatar/breakout', 'minatar/space_invaders'];
    const raw = (game: string, arm: string, seed: number) =>
      (game.includes('breakout') ? 5 : 20) + (arm === 'coordconv' ? 2 : 0) + seed;
    const dir = synthExperiment({ ...SPEC, envs: env }, (game, arm, seed) => ({ score: raw(game, arm, seed) }));
    const s = summarizeExperiment(dir, { reps: 300 });
    expect(s.normalization.kind).toBe('minatar');
    expect(s.normalization.note).toMatch(/reference-normalised scores: \(score - random\) \/ \(reference - random\)/);
    const norm = (e: string, seed: number) => minatarNormalized(e, raw(e, 'conv', seed)) as number;
    expect(s.games[0].arms[0].runs[0].normalized).toBeCloseTo(norm(env[0], 1), 12);
    // the mean over games of the per-game means of normalised scores, not of raw ones
    const perGame = env.map((e) => (norm(e, 1) + norm(e, 2) + norm(e, 3)) / 3);
    expect(s.aggregate?.arms[0].mean.estimate).toBeCloseTo((perGame[0] + perGame[1]) / 2, 10);
    expect(s.comparisons[0].verdict).toMatch(/in reference-normalised score/);
    // Atari and MinAtar in one experiment: two different references, so raw scores, said so
    const mixed = summarizeExperiment(
      synthExperiment({ ...SPEC, envs: ['pong', 'minatar/breakout'] }, (_g, _a, seed) => ({ score: seed })),
      { reps: 100 },
    );
    expect(mixed.normalization.kind).toBe('raw');
    expect(mixed.normalization.note).toMatch(/^Atari and MinAtar games are normalised against different references/);
  });

  it('uses raw scores, and says so, for games without human reference scores', () => {
    const dir = synthExperiment(
      {
        ...SPEC,
        envs: ['CartPole-v1'],
        arms: [
          { name: 'small', fields: { torso: 'mlp', lr: 1e-3 } },
          { name: 'big', fields: { torso: 'mlp', lr: 2e-3 } },
        ],
      },
      (_g, arm, seed) => ({ score: arm === 'big' ? 100 + seed : 50 + seed }),
    );
    const s = summarizeExperiment(dir, { reps: 300 });
    expect(s.normalization.kind).toBe('raw');
    expect(s.normalization.note).toMatch(/CartPole-v1 has no human reference score, so aggregates use raw scores/);
    expect(s.aggregate?.arms[0].mean.estimate).toBe(52);
    expect(s.configDiff).toEqual([{ field: 'lr', values: { small: 1e-3, big: 2e-3 } }]);
    expect(s.comparisons[0].verdict).toMatch(/^big better than small on 1 of 1 game/);
    expect(s.comparisons[0].verdict).toMatch(/IQM difference \(big - small\) \+50\.0 \[/);
  });
});

describe('verdict wording', () => {
  const base = {
    a: 'conv',
    b: 'coordconv',
    games: 3,
    gamesBetter: 2,
    gamesWorse: 1,
    gamesTied: 0,
    runsPerArm: { min: 5, max: 5 },
    scoreKind: 'human' as const,
  };

  it('is not significant when the IQM difference interval includes 0', () => {
    const v = verdict({
      ...base,
      iqmDiff: { estimate: 0.04, lo: -0.02, hi: 0.11 },
      poi: { estimate: 0.58, lo: 0.41, hi: 0.75 },
    });
    expect(v.significant).toBe(false);
    expect(v.direction).toBeNull();
    expect(v.text).toBe(
      'coordconv better than conv on 2 of 3 games, worse on 1 (by mean final score); aggregate IQM difference (coordconv - conv) +0.04 [-0.02, 0.11] in human-normalised score, P(coordconv > conv) = 0.58 [0.41, 0.75]: not significant at 5 runs per arm.',
    );
  });

  it('is significant only when both intervals exclude no difference on the same side', () => {
    const better = verdict({
      ...base,
      iqmDiff: { estimate: 0.2, lo: 0.05, hi: 0.31 },
      poi: { estimate: 0.8, lo: 0.62, hi: 0.93 },
    });
    expect(better).toMatchObject({ significant: true, direction: 'better' });
    expect(better.text).toMatch(
      /: coordconv better than conv, significant at the 95% level with 5 runs per arm \(both intervals exclude no difference\)\.$/,
    );
    const worse = verdict({
      ...base,
      gamesBetter: 0,
      gamesWorse: 3,
      iqmDiff: { estimate: -0.2, lo: -0.3, hi: -0.1 },
      poi: { estimate: 0.2, lo: 0.1, hi: 0.35 },
    });
    expect(worse).toMatchObject({ significant: true, direction: 'worse' });
    expect(worse.text).toMatch(/^coordconv better than conv on 0 of 3 games, worse on 3/);
    expect(worse.text).toMatch(/-0\.20 \[-0\.30, -0\.10\]/);
    const half = verdict({
      ...base,
      iqmDiff: { estimate: 0.2, lo: 0.05, hi: 0.31 },
      poi: { estimate: 0.6, lo: 0.45, hi: 0.75 },
    });
    expect(half.significant).toBe(false);
    expect(half.text).toMatch(
      /not significant at 5 runs per arm \(the IQM difference excludes 0 but P\(coordconv > conv\) does not exclude 0\.5\)\.$/,
    );
  });

  it('claims nothing below three runs per arm, and counts missing runs', () => {
    const v = verdict({
      ...base,
      runsPerArm: { min: 2, max: 2 },
      iqmDiff: { estimate: 0.5, lo: 0.4, hi: 0.6 },
      poi: { estimate: 1, lo: 1, hi: 1 },
      missing: 3,
      total: 30,
    });
    expect(v.significant).toBe(false);
    expect(v.text).toMatch(
      /: inconclusive: only 2 runs per arm \(no claim below 3\)\. Based on 27 of 30 runs; 3 missing\.$/,
    );
  });

  it('uses raw units and magnitude-aware decimals for raw scores', () => {
    const v = verdict({
      ...base,
      games: 1,
      gamesBetter: 1,
      gamesWorse: 0,
      gamesTied: 0,
      scoreKind: 'raw',
      iqmDiff: { estimate: 123.4, lo: -20.2, hi: 250 },
      poi: { estimate: 0.7, lo: 0.4, hi: 0.9 },
    });
    expect(v.text).toContain('on 1 of 1 game (by mean final score)');
    expect(v.text).toContain('+123 [-20, 250] in raw score');
  });
});

describe('coordrl ab command', () => {
  async function ab(...args: string[]): Promise<string> {
    const program = new Command('coordrl').exitOverride();
    registerAb(program);
    for (const c of program.commands) c.exitOverride();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    try {
      await program.parseAsync(['node', 'coordrl', 'ab', ...args]);
    } finally {
      spy.mockRestore();
    }
    return out.join('');
  }

  it('--dry-run validates every run and prints the plan without writing anything', async () => {
    const out = path.join(tmp(), 'exp');
    const text = await ab(
      '--envs',
      'pong,breakout',
      '--seeds',
      '2',
      '--frames',
      '10M',
      '--lr',
      '1e-3',
      '--out',
      out,
      '--dry-run',
      '--json',
    );
    const plan = JSON.parse(text);
    expect(plan.runs).toHaveLength(8);
    expect(plan.runs[0]).toMatchObject({
      id: 'pong/conv/seed-1',
      config: { frames: 10_000_000, lr: 1e-3, torso: 'conv', seed: 1 },
    });
    expect(existsSync(out)).toBe(false);
  });

  it('rejects bad arms and flags with a usage error (exit code 2)', async () => {
    const dir = tmp();
    const bad = file(dir, 'arms.yaml', 'arms: [{name: conv, torso: conv}, {name: bad, torso: coordconv, withR: 3}]');
    await expect(ab('--envs', 'pong', '--arms-file', bad, '--out', path.join(dir, 'e'))).rejects.toThrow(
      /arm 'bad' on pong: invalid configuration: 'withR'/,
    );
    await expect(ab('--envs', 'pong', '--out', path.join(dir, 'e'), '--seed', '3')).rejects.toThrow(
      /unknown option '--seed'/,
    );
    await expect(ab('--envs', 'pong')).rejects.toThrow(/--out <dir> is required/);
    await expect(ab('--out', path.join(dir, 'e'))).rejects.toThrow(/--envs is required/);
    await expect(ab('--resume', path.join(dir, 'e'), '--seeds', '3', '--lr', '1e-3')).rejects.toThrow(
      /drop --seeds, --lr/,
    );
    await expect(ab('--envs', 'CartPole-v1', '--out', path.join(dir, 'e'))).rejects.toThrow(
      /torso conv needs image observations/,
    );
    expect(existsSync(path.join(dir, 'e'))).toBe(false);
  });
});
