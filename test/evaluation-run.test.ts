// `coordrl eval` on a real (tiny) CartPole run: --checkpoint, the per-env quota and every statistic
// in --json; and FIRE after a lost life reaching the env server from a run's configuration.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../src/run-config.js';
import { createEnv } from '../src/training/env-factory.js';
import { coordrl } from './helpers/coordrl-cli.js';

describe('coordrl eval', () => {
  it('plays a chosen checkpoint with a quota per env and reports scores and lengths', () => {
    const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-eval-')), 'run');
    const train = coordrl(
      'train',
      '--env',
      'CartPole-v1',
      '--algo',
      'a2c',
      '--steps',
      '2000',
      '--num-envs',
      '4',
      '--checkpoint-every',
      '1000',
      '--run-dir',
      runDir,
      '--no-progress',
      '--json',
    );
    expect(train.code, train.stderr.join('\n')).toBe(0);

    const r = coordrl('eval', runDir, '--checkpoint', 'step-000001000', '--episodes', '5', '--num-envs', '2', '--json');
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const ev = JSON.parse(r.stdout);
    expect(ev).toMatchObject({ checkpoint: 'step-000001000', checkpointStep: 1000, episodes: 5, numEnvs: 2 });
    expect(ev.quota).toEqual([2, 3]);
    expect(ev.perEpisode.filter((e: { env: number }) => e.env === 0)).toHaveLength(2);
    expect(ev.perEpisode.filter((e: { env: number }) => e.env === 1)).toHaveLength(3);
    // CartPole scores 1 per step: each score equals its length, and frames = steps (no frame skip).
    for (const e of ev.perEpisode) expect(e.score).toBe(e.steps);
    for (const e of ev.perEpisode) expect(e.frames).toBe(e.steps);
    const scores: number[] = ev.scores;
    const mean = scores.reduce((a, b) => a + b, 0) / 5;
    expect(ev.mean).toBeCloseTo(mean, 9);
    expect(ev.std).toBeCloseTo(Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / 5), 9);
    expect(ev.min).toBe(Math.min(...scores));
    expect(ev.max).toBe(Math.max(...scores));
    expect(ev.median).toBe([...scores].sort((a, b) => a - b)[2]);
    expect(ev.lengthSteps).toMatchObject({ mean: ev.mean, min: ev.min, max: ev.max });

    // By step number, and the newest by default.
    expect(
      JSON.parse(coordrl('eval', runDir, '--checkpoint', '1000', '--episodes', '1', '--json').stdout).checkpoint,
    ).toBe('step-000001000');
    expect(JSON.parse(coordrl('eval', runDir, '--episodes', '1', '--json').stdout).checkpoint).toBe('step-000002000');

    // Sampled actions: said in the result, reproducible from the seed, and not mixed with --epsilon.
    const sampled = () => coordrl('eval', runDir, '--policy', 'sample', '--episodes', '4', '--seed', '7', '--json');
    const s1 = sampled();
    expect(s1.code, s1.stderr.join('\n')).toBe(0);
    const sp = JSON.parse(s1.stdout);
    expect(sp.policy).toBe('sample');
    expect(ev.policy).toBe('greedy');
    expect(JSON.parse(sampled().stdout).scores).toEqual(sp.scores);
    const mixed = coordrl('eval', runDir, '--policy', 'sample', '--epsilon', '0.1');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr.join('\n')).toMatch(/--epsilon adds noise to greedy play/);

    const bad = coordrl('eval', runDir, '--checkpoint', 'step-42');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toHaveLength(1);
    expect(bad.stderr[0]).toMatch(/no checkpoint 'step-42' in .*; available: step-000001000, step-000002000/);
  }, 300_000);
});

describe('FIRE after a lost life from the run configuration', () => {
  // Breakout with NOOP actions: without FIRE after a lost life no new ball comes (lives stay at 4).
  async function livesAfterNoops(overrides: Record<string, unknown>, opts: { lifeLossFire?: boolean } = {}) {
    const config = resolveRunConfig({ env: 'breakout', stickyActions: 0, ...overrides });
    const env = await createEnv(config, 1, opts);
    try {
      await env.reset(3);
      let lives = -1;
      for (let t = 0; t < 1500 && lives !== 0; t++) {
        const out = await env.step(new Int32Array(1));
        if (out.episodes.length) return 0; // the game ended: every life was played
        lives = out.lives?.[0] ?? -1;
      }
      return lives;
    } finally {
      await env.close();
    }
  }

  it('is on by default with --life-loss, off with --no-life-loss-fire, and kept for evaluation', async () => {
    expect(resolveRunConfig({ env: 'breakout' }).lifeLossFire).toBe(true);
    expect(await livesAfterNoops({})).toBe(0);
    expect(await livesAfterNoops({ lifeLossFire: false })).toBe(4);
    // Evaluation turns the life-loss signal off but keeps the FIRE the agent trained with.
    expect(await livesAfterNoops({ lifeLoss: false }, { lifeLossFire: true })).toBe(0);
    expect(await livesAfterNoops({ lifeLoss: false })).toBe(4);
  }, 120_000);
});
