// The memory estimate of a run and the "did you mean" of config fields: pure functions, checked
// against sizes computed by hand and against the arrays the replay buffer really allocates.
import { describe, expect, it } from 'vitest';
import { makeReplayBuffer } from '../src/replay/index.js';
import { resolveRunConfig } from '../src/run-config.js';
import {
  availableMemory,
  checkRunMemory,
  estimateRunMemory,
  MAX_ARRAY_ELEMENTS,
  memoryLimitOverride,
} from '../src/training/memory.js';
import { closestMatch, editDistance } from '../src/util/suggest.js';

const ATARI = { shape: [84, 84, 4], dtype: 'uint8' } as const;
const CARTPOLE = { shape: [4], dtype: 'float32' } as const;
const GB = 1e9;

function part(e: ReturnType<typeof estimateRunMemory>, name: string): number {
  const p = e.parts.find((x) => x.name === name);
  if (!p) throw new Error(`no part ${name}`);
  return p.bytes;
}

describe('run memory estimate', () => {
  it('a frame replay is counted as the buffer really allocates (within 1%)', () => {
    const config = resolveRunConfig({ algo: 'dqn', env: 'pong', bufferSize: 20_000, numEnvs: 2 });
    const e = estimateRunMemory(config, ATARI, 1_700_000);
    const real = makeReplayBuffer({
      observationSpace: { shape: ATARI.shape, dtype: 'uint8' },
      numEnvs: 2,
      capacity: 20_000,
      nStep: 1,
      gamma: 0.99,
    }).bytes();
    expect(Math.abs(part(e, 'replay buffer') - real) / real).toBeLessThan(0.01);
  });

  it('SB3-size Atari DQN (1M frames) is about 7 GB; A2C defaults are small', () => {
    const dqn = estimateRunMemory(resolveRunConfig({ algo: 'dqn', env: 'pong', bufferSize: 1_000_000 }), ATARI, 1.7e6);
    expect(dqn.totalBytes).toBeGreaterThan(7 * GB);
    expect(dqn.totalBytes).toBeLessThan(8 * GB);
    const a2c = estimateRunMemory(resolveRunConfig({ env: 'pong' }), ATARI, 1.7e6);
    expect(a2c.totalBytes).toBeLessThan(1 * GB);
    expect(part(a2c, 'rollout buffers')).toBe(5 * 16 * (84 * 84 * 4 + 20));
  });

  it('refuses past the available memory, naming the biggest part and its flag', () => {
    const config = resolveRunConfig({ algo: 'dqn', env: 'CartPole-v1', batchSize: 10_000_000 });
    const e = estimateRunMemory(config, CARTPOLE, 5000);
    expect(() => checkRunMemory(config, e, { available: e.totalBytes * 2, total: e.totalBytes * 3 })).not.toThrow();
    expect(() => checkRunMemory(config, e, { available: e.totalBytes / 2, total: e.totalBytes })).toThrow(
      /this run needs about .* of memory \(batch tensors .*\), more than the .* available .*; lower --batch-size 10000000/,
    );
  });

  it('COORDRL_MEMORY_LIMIT replaces the available memory, and a bad value is one clear error', () => {
    expect(memoryLimitOverride(undefined)).toBeNull();
    expect(memoryLimitOverride('32G')).toBe(32e9);
    expect(memoryLimitOverride('500m')).toBe(500e6);
    expect(memoryLimitOverride('2.5TB')).toBe(2.5e12);
    expect(memoryLimitOverride('4000000000')).toBe(4e9);
    for (const bad of ['lots', '-1G', '0', '12Q', '1e99'])
      expect(() => memoryLimitOverride(bad)).toThrow(/COORDRL_MEMORY_LIMIT must be a size .* got/);
    const saved = process.env.COORDRL_MEMORY_LIMIT;
    try {
      process.env.COORDRL_MEMORY_LIMIT = '3T';
      expect(availableMemory()).toEqual({ available: 3e12, total: 3e12 });
      const config = resolveRunConfig({ algo: 'dqn', env: 'CartPole-v1', batchSize: 10_000_000 });
      const e = estimateRunMemory(config, CARTPOLE, 5000);
      expect(() => checkRunMemory(config, e)).not.toThrow();
      expect(() => checkRunMemory(config, e, { available: 1e9, total: 1e9 })).toThrow(/or set COORDRL_MEMORY_LIMIT/);
    } finally {
      if (saved === undefined) delete process.env.COORDRL_MEMORY_LIMIT;
      else process.env.COORDRL_MEMORY_LIMIT = saved;
    }
  });

  it('refuses an array longer than any can be even with memory to spare', () => {
    const config = resolveRunConfig({ env: 'CartPole-v1', nSteps: 100_000_000, numEnvs: 16 });
    const e = estimateRunMemory(config, CARTPOLE, 5000);
    expect(16 * 100_000_000 * 4).toBeGreaterThan(MAX_ARRAY_ELEMENTS);
    expect(() => checkRunMemory(config, e, { available: 1e15, total: 1e15 })).toThrow(
      /would need an array of 6\.40e\+9 elements.*lower --n-steps 100000000 or --num-envs 16/,
    );
  });
});

describe('did you mean', () => {
  it('matches case, dashes and underscores away, and small typos', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    const keys = ['bufferSize', 'batchSize', 'learningStarts', 'lr'];
    expect(closestMatch('buffer_size', keys)).toBe('bufferSize');
    expect(closestMatch('buffer-size', keys)).toBe('bufferSize');
    expect(closestMatch('learningstart', keys)).toBe('learningStarts');
    expect(closestMatch('bachSize', keys)).toBe('batchSize');
    expect(closestMatch('completelyDifferent', keys)).toBeNull();
  });
});
