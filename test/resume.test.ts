// Exact resume: training 2N steps straight and training N steps, stopping, and resuming for N
// more give bit-identical networks, optimizer state (and replay buffer), with exactResume on.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { checkpointName } from '../src/checkpoint/index.js';
import { resolveRunConfig } from '../src/run-config.js';
import { readMetrics } from '../src/training/metrics.js';
import { resumeRun, startRun } from '../src/training/run.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

function bytes(runDir: string, step: number, file: string): Buffer {
  return readFileSync(path.join(runDir, 'checkpoints', checkpointName(step), file));
}

async function straightAndResumed(flags: Record<string, unknown>, half: number) {
  const root = mkdtempSync(path.join(tmpdir(), 'coordrl-resume-'));
  const straight = path.join(root, 'straight');
  const split = path.join(root, 'split');
  const base = { env: 'CartPole-v1', seed: 3, exactResume: true, checkpointEvery: half, logEvery: half / 4, ...flags };
  await startRun(resolveRunConfig({ ...base, steps: 2 * half }), { runDir: straight, progress: false });
  // Same budget (schedules such as epsilon follow it), paused half-way, then resumed.
  const paused = await startRun(resolveRunConfig({ ...base, steps: 2 * half }), {
    runDir: split,
    progress: false,
    stopAt: half,
  });
  expect(paused.stopReason).toBe('paused');
  const resumed = await resumeRun(split, { progress: false });
  expect(resumed.steps).toBe(2 * half);
  return { straight, split };
}

describe('exact resume', () => {
  it('A2C: 2N straight equals N + resume N, bit for bit', async () => {
    const half = 2000; // 50 updates of 8 envs x 5 steps
    const { straight, split } = await straightAndResumed({ algo: 'a2c', numEnvs: 8 }, half);
    for (const f of ['models/policy/weights.bin', 'optimizer.bin']) {
      expect(bytes(split, 2 * half, f).equals(bytes(straight, 2 * half, f)), f).toBe(true);
    }
    // The weights did change over the second half (the comparison is not vacuous).
    expect(
      bytes(split, half, 'models/policy/weights.bin').equals(bytes(split, 2 * half, 'models/policy/weights.bin')),
    ).toBe(false);
    // Metrics continue in the same file, without gaps or duplicate steps.
    const steps = readMetrics(path.join(split, 'metrics.jsonl')).map((m) => m.step);
    const straightSteps = readMetrics(path.join(straight, 'metrics.jsonl')).map((m) => m.step);
    expect(steps).toEqual(straightSteps);
    expect(new Set(steps).size).toBe(steps.length);
    // Every record has a speed, the first ones too (not 0 before the first 2-second window).
    for (const m of readMetrics(path.join(straight, 'metrics.jsonl'))) expect(m.sps).toBeGreaterThan(0);
  }, 120_000);

  it('A2C with the pipelined rollout (two env groups): 2N straight equals N + resume N, bit for bit', async () => {
    const half = 1200;
    const { straight, split } = await straightAndResumed({ algo: 'a2c', numEnvs: 8, pipeline: true }, half);
    for (const f of ['models/policy/weights.bin', 'optimizer.bin']) {
      expect(bytes(split, 2 * half, f).equals(bytes(straight, 2 * half, f)), f).toBe(true);
    }
  }, 120_000);

  it('DQN: 2N straight equals N + resume N, bit for bit (networks, Adam state, replay)', async () => {
    const half = 1200;
    const { straight, split } = await straightAndResumed(
      { algo: 'dqn', bufferSize: 5000, learningStarts: 300, trainFreq: 4, targetUpdateInterval: 200, batchSize: 32 },
      half,
    );
    for (const f of [
      'models/online/weights.bin',
      'models/target/weights.bin',
      'optimizer.bin',
      'replay.bin',
      'replay.json',
    ]) {
      expect(bytes(split, 2 * half, f).equals(bytes(straight, 2 * half, f)), f).toBe(true);
    }
    // Adam's iteration count and running beta powers (variable names differ between processes).
    const opt = (dir: string) => JSON.parse(bytes(dir, 2 * half, 'optimizer.json').toString());
    expect(opt(split).iterations).toBeGreaterThan(0);
    expect(opt(split).iterations).toBe(opt(straight).iterations);
    expect(opt(split).extra).toEqual(opt(straight).extra);
    const straightState = JSON.parse(bytes(straight, 2 * half, 'state.json').toString());
    const splitState = JSON.parse(bytes(split, 2 * half, 'state.json').toString());
    expect(splitState.rng).toEqual(straightState.rng);
    expect(splitState.agentCounters).toEqual(straightState.agentCounters);
    expect(splitState.counters.steps).toBe(straightState.counters.steps);
  }, 120_000);

  it('DQN on MinAtar (its preset: centered RMSprop, whole-observation replay): bit for bit', async () => {
    const half = 1000;
    const { straight, split } = await straightAndResumed(
      { algo: 'dqn', env: 'minatar/breakout', bufferSize: 5000, learningStarts: 300, explorationSteps: 1000 },
      half,
    );
    for (const f of ['models/online/weights.bin', 'models/target/weights.bin', 'optimizer.bin', 'replay.bin']) {
      expect(bytes(split, 2 * half, f).equals(bytes(straight, 2 * half, f)), f).toBe(true);
    }
    const opt = JSON.parse(bytes(split, 2 * half, 'optimizer.json').toString());
    expect(opt.className).toBe('CenteredRMSprop');
    expect(opt.iterations).toBe(2 * half - 300); // one update per frame once learning started
  }, 180_000);
});
