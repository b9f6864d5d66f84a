// The pipelined A2C rollout through the real env server: a CartPole run trains to the same
// checkpoint bit for bit with and without it (two env groups against one), and `coordrl bench
// rollout` reports the profile of an iteration (the env server's own step time included).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { checkpointName } from '../src/checkpoint/index.js';
import { resolveRunConfig } from '../src/run-config.js';
import { trainingEnvGroups } from '../src/training/env-factory.js';
import { startRun } from '../src/training/run.js';
import { coordrl, errorLines } from './helpers/cli.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

describe('pipelined A2C rollout on the env server', () => {
  it('A2C pipelines (two env groups) with --pipeline only; DQN and 1-env runs never', () => {
    const groups = (flags: Record<string, unknown>) => trainingEnvGroups(resolveRunConfig(flags));
    expect(groups({ algo: 'a2c', env: 'pong' })).toBe(1);
    expect(groups({ algo: 'a2c', env: 'pong', pipeline: true })).toBe(2);
    expect(groups({ algo: 'a2c', env: 'pong', pipeline: false })).toBe(1);
    expect(groups({ algo: 'a2c', env: 'CartPole-v1' })).toBe(1);
    expect(groups({ algo: 'a2c', env: 'minatar/breakout' })).toBe(1);
    expect(groups({ algo: 'a2c', env: 'CartPole-v1', pipeline: true })).toBe(2);
    expect(groups({ algo: 'a2c', env: 'minatar/breakout', pipeline: true })).toBe(2);
    expect(groups({ algo: 'a2c', env: 'CartPole-v1', numEnvs: 1, pipeline: true })).toBe(1);
    expect(groups({ algo: 'dqn', env: 'CartPole-v1' })).toBe(1);
  });

  it('CartPole: the same checkpoint bit for bit with and without pipelining', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-pipeline-'));
    const steps = 1600; // 20 updates of 16 envs x 5 steps
    const weights: Buffer[] = [];
    for (const pipeline of [true, false]) {
      const runDir = path.join(root, String(pipeline));
      const config = resolveRunConfig({
        algo: 'a2c',
        env: 'CartPole-v1',
        seed: 4,
        steps,
        checkpointEvery: steps,
        pipeline,
      });
      const r = await startRun(config, { runDir, progress: false });
      expect(r.steps).toBe(steps);
      weights.push(readFileSync(path.join(runDir, 'checkpoints', checkpointName(steps), 'models/policy/weights.bin')));
    }
    expect(weights[0].equals(weights[1])).toBe(true);
  }, 180_000);

  it('coordrl bench rollout prints the parts of an iteration as JSON', () => {
    const r = coordrl([
      'bench',
      'rollout',
      '--env',
      'CartPole-v1',
      '--pipeline',
      '--seconds',
      '1',
      '--warmup',
      '0.5',
      '--json',
    ]);
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const p = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(p.envGroups).toBe(2);
    expect(p.nSteps).toBe(5);
    expect(p.updates).toBeGreaterThan(0);
    const q = p.perIteration;
    // Two groups x (5 steps + the bootstrap values); truncated episodes would add more.
    expect(q.inferenceCalls).toBeGreaterThanOrEqual(12);
    // The server's own step time reached the client.
    expect(q.envServer).toBeGreaterThan(0);
    for (const k of ['inference', 'sampling', 'bookkeeping', 'sending', 'waiting', 'bridge', 'update'])
      expect(q[k], k).toBeGreaterThanOrEqual(0);
    expect(p.cpuPerIteration.learner).toBeGreaterThan(0);
    expect(p.cpuPerIteration.envServers).toBeGreaterThan(0);
    expect(q.inference + q.sampling + q.bookkeeping + q.sending + q.waiting + q.update).toBeCloseTo(q.total, 2);
  }, 120_000);

  it('bench rollout: --help, and one line with exit code 2 for bad arguments', () => {
    const help = coordrl(['bench', 'rollout', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--pipeline/);
    expect(help.stdout).toMatch(/--no-pipeline/);
    for (const args of [
      ['bench', 'rollout', '--seconds', '0'],
      ['bench', 'rollout', '--torso', 'resnet'],
      ['bench', 'rollout', '--num-envs', 'many'],
    ]) {
      const r = coordrl(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLines(r).length, args.join(' ')).toBe(1);
    }
  });
});
