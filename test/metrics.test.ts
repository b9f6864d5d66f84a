import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainableAgent } from '../src/agent.js';
import { EpisodeStats } from '../src/training/episodes.js';
import {
  defaultLogEvery,
  MetricsLogger,
  readMetrics,
  type SummaryWriter,
  tensorboardTag,
} from '../src/training/metrics.js';
import { episodeHook, runTraining, StopSignal } from '../src/training/trainer.js';

function fakeWriter(): SummaryWriter & { calls: [string, number, number][] } {
  const calls: [string, number, number][] = [];
  return { calls, scalar: (name, value, step) => void calls.push([name, value, step]), flush: () => {} };
}

describe('metrics density', () => {
  it('derives the default log interval from the budget: ~50 records, at most every 10,000 steps', () => {
    expect(defaultLogEvery(1000)).toBe(20);
    expect(defaultLogEvery(5000)).toBe(100);
    expect(defaultLogEvery(10)).toBe(1);
    expect(defaultLogEvery(10_000_000)).toBe(10_000);
  });

  it('gives a short run at least 20 points and always logs the last step of the budget', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'coordrl-metrics-'));
    const budgetSteps = 2_010; // not a multiple of the interval
    const episodes = new EpisodeStats();
    const counters = { steps: 0, frames: 0, updates: 0, wallSeconds: 0 };
    const hook = episodeHook(episodes, () => counters.steps);
    const agent = {
      algo: 'fake',
      iterate: async () => {
        hook({ episodes: counters.steps % 400 === 0 ? [{ score: 1, length: 10 }] : [] } as never);
        return { envSteps: 10, updates: 1, scalars: { loss: 0.5 } };
      },
    } as unknown as TrainableAgent;
    const metrics = new MetricsLogger(runDir, { tensorboard: false });
    await runTraining(
      {
        agent,
        budgetSteps,
        frameSkip: 4,
        logEvery: defaultLogEvery(budgetSteps),
        checkpointEvery: 1_000_000,
        metrics,
        episodes,
        counters,
        save: async () => {},
        label: 'fake',
        showProgress: false,
      },
      new StopSignal(),
    );
    const records = readMetrics(metrics.file);
    expect(records.length).toBeGreaterThanOrEqual(20);
    expect(records.at(-1)?.step).toBe(budgetSteps);
    expect(records.at(-1)?.frames).toBe(budgetSteps * 4);
  });
});

describe('TensorBoard tags', () => {
  it("uses SB3's and CleanRL's grouped names against agent steps", () => {
    expect(tensorboardTag('score')).toBe('rollout/ep_rew_mean');
    expect(tensorboardTag('episodeLength')).toBe('rollout/ep_len_mean');
    expect(tensorboardTag('valueLoss')).toBe('train/value_loss');
    expect(tensorboardTag('sps')).toBe('time/fps');
    expect(tensorboardTag('someNewScalar')).toBe('train/some_new_scalar');
    const writer = fakeWriter();
    const m = new MetricsLogger(mkdtempSync(path.join(tmpdir(), 'coordrl-tb-')), { writer });
    m.log({ step: 500, frames: 2000, time: 3, score: -20, valueLoss: 0.1, epsilon: 0.5 });
    expect(writer.calls).toEqual([
      ['time/frames', 2000, 500],
      ['time/time_elapsed', 3, 500],
      ['rollout/ep_rew_mean', -20, 500],
      ['train/value_loss', 0.1, 500],
      ['rollout/exploration_rate', 0.5, 500],
    ]);
    writer.calls.length = 0;
    m.log({ step: 600, frames: 2400, time: 4, score: Number.NaN }); // no finished episode: no point
    expect(writer.calls.map((c) => c[0])).not.toContain('rollout/ep_rew_mean');
    writer.calls.length = 0;
    m.episode(-21, 812, 640);
    expect(writer.calls).toEqual([
      ['charts/episodic_return', -21, 640],
      ['charts/episodic_length', 812, 640],
    ]);
  });

  it('sends every finished episode to the episode callback', () => {
    const seen: number[] = [];
    const hook = episodeHook(
      new EpisodeStats(),
      () => 0,
      (score) => seen.push(score),
    );
    hook({
      episodes: [
        { score: 3, length: 1 },
        { score: 4, length: 2 },
      ],
    } as never);
    expect(seen).toEqual([3, 4]);
  });
});
