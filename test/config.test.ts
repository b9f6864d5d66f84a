import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetSteps, frameSkipFor, isAtari } from '../src/config.js';
import { resolveRunConfig } from '../src/run-config.js';
import { parseCount, UsageError } from '../src/util/cli-errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'coordrl-config-'));
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('run configuration', () => {
  it('defaults to CoordConv A2C on Pong with SB3 Atari hyperparameters', () => {
    const c = resolveRunConfig({});
    expect(c.algo).toBe('a2c');
    expect(c.env).toBe('pong');
    expect(c.torso).toBe('coordconv');
    if (c.algo !== 'a2c') throw new Error('unreachable');
    expect([c.numEnvs, c.nSteps, c.gamma, c.entCoef, c.vfCoef, c.maxGradNorm, c.lr]).toEqual([
      16, 5, 0.99, 0.01, 0.25, 0.5, 7e-4,
    ]);
  });

  it('picks an MLP torso for vector observations when the torso is auto', () => {
    expect(resolveRunConfig({ env: 'CartPole-v1' }).torso).toBe('mlp');
  });

  it('has DQN defaults of its own', () => {
    const c = resolveRunConfig({ algo: 'dqn' });
    if (c.algo !== 'dqn') throw new Error('unreachable');
    expect([c.bufferSize, c.learningStarts, c.lr, c.batchSize, c.trainFreq, c.targetUpdateInterval]).toEqual([
      100_000, 100_000, 1e-4, 32, 4, 1000,
    ]);
  });

  it('merges defaults < YAML file < flags', () => {
    const f = file('a.yaml', 'algo: dqn\nenv: breakout\nlr: 0.0005\nbatchSize: 64\n');
    const c = resolveRunConfig({ lr: 0.001 }, f);
    expect(c.algo).toBe('dqn');
    expect(c.env).toBe('breakout');
    if (c.algo !== 'dqn') throw new Error('unreachable');
    expect(c.lr).toBe(0.001);
    expect(c.batchSize).toBe(64);
  });

  it("reads counts in files as the flags do (frames: 10M, bufferSize: 100k, 2_000_000), the README's example", () => {
    const f = file(
      'counts.yaml',
      'algo: dqn\nenv: breakout\ntorso: coordconv\nframes: 10M\ndouble: true\nbufferSize: 200000\n',
    );
    expect(resolveRunConfig({}, f)).toMatchObject({ frames: 10_000_000, bufferSize: 200_000 });
    const g = file('counts2.yaml', 'algo: dqn\nsteps: 2_000_000\nbufferSize: 100k\nlearningStarts: 1.5k\n');
    expect(resolveRunConfig({}, g)).toMatchObject({ steps: 2_000_000, bufferSize: 100_000, learningStarts: 1500 });
    // A string that is no count stays a string, and the schema names the field.
    const h = file('counts3.yaml', 'algo: dqn\nbufferSize: lots\n');
    expect(() => resolveRunConfig({}, h)).toThrow(/bufferSize/);
  });

  it('reads JSON files too', () => {
    const f = file('b.json', JSON.stringify({ seed: 7, torso: 'conv' }));
    expect(resolveRunConfig({}, f)).toMatchObject({ seed: 7, torso: 'conv' });
  });

  it('names an unknown field precisely', () => {
    const f = file('c.yaml', 'algo: a2c\nlearningRate: 0.1\n');
    expect(() => resolveRunConfig({}, f)).toThrow(/unknown field 'learningRate'/);
  });

  it('names a field of the wrong type precisely', () => {
    const f = file('d.yaml', 'gamma: 1.5\nnumEnvs: two\n');
    const err = (() => {
      try {
        resolveRunConfig({}, f);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/'gamma'/);
    expect(err.message).toMatch(/'numEnvs'/);
  });

  it('refuses a flag of the other algorithm instead of ignoring it', () => {
    expect(() => resolveRunConfig({ algo: 'a2c', bufferSize: 1000 })).toThrow(/--buffer-size is a dqn setting/);
  });

  it('reports unreadable and malformed files', () => {
    expect(() => resolveRunConfig({}, path.join(dir, 'missing.yaml'))).toThrow(/cannot read config file/);
    expect(() => resolveRunConfig({}, file('e.json', '{"seed": '))).toThrow(/not valid JSON/);
    expect(() => resolveRunConfig({}, file('f.yaml', '- 1\n- 2\n'))).toThrow(/must hold a mapping/);
  });
});

describe('budgets', () => {
  it('tells Atari from Gymnasium ids', () => {
    for (const e of ['pong', 'Breakout', 'ALE/Pong-v5', 'PongNoFrameskip-v4']) expect(isAtari(e)).toBe(true);
    for (const e of ['CartPole-v1', 'Acrobot-v1']) expect(isAtari(e)).toBe(false);
    expect(frameSkipFor('pong')).toBe(4);
    expect(frameSkipFor('CartPole-v1')).toBe(1);
  });

  it('converts frames to agent steps (4 frames a step on Atari)', () => {
    expect(budgetSteps({ env: 'pong', frames: 10_000_000 }, 1)).toBe(2_500_000);
    expect(budgetSteps({ env: 'pong', steps: 1000, frames: 8 }, 1)).toBe(1000);
    expect(budgetSteps({ env: 'CartPole-v1' }, 42)).toBe(42);
  });

  it('parses counts with suffixes', () => {
    const p = parseCount('--frames');
    expect(p('10M')).toBe(10_000_000);
    expect(p('500k')).toBe(500_000);
    expect(p('2_000')).toBe(2000);
    expect(p('1e6')).toBe(1_000_000);
    expect(() => p('ten')).toThrow(/cannot read 'ten'/);
  });
});
