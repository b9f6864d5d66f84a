// The training loop around an agent: budget, progress, metrics, checkpoints, signals. The agent
// does the algorithm (agents/<algo>.ts); this file does everything a long run needs besides.
import type { AgentStep, TrainableAgent } from '../agent.js';
import type { EpisodeStats } from './episodes.js';
import type { MetricsLogger } from './metrics.js';
import { Progress } from './progress.js';

export interface TrainerCounters {
  steps: number;
  frames: number;
  updates: number;
  wallSeconds: number;
}

export interface TrainerOptions {
  agent: TrainableAgent;
  budgetSteps: number;
  /** Stop (and save) once this many steps are done, before the budget; schedules still follow the budget. */
  stopAt?: number;
  frameSkip: number;
  logEvery: number;
  checkpointEvery: number;
  metrics: MetricsLogger;
  episodes: EpisodeStats;
  counters: TrainerCounters;
  /** Saves a checkpoint of everything (agent + counters + episode stats). */
  save: (reason: 'periodic' | 'signal' | 'final') => Promise<void>;
  label: string;
  showProgress?: boolean;
  /** Extra scalars logged with every metrics record (e.g. env restarts). */
  extraScalars?: () => Record<string, number>;
}

/** budget: done; paused: reached `stopAt` before the budget (resume continues); signal: Ctrl-C/SIGTERM. */
export type StopReason = 'budget' | 'paused' | 'signal';

/** Ctrl-C / SIGTERM: the first asks the loop to stop after the current iteration and save. */
export class StopSignal {
  requested: NodeJS.Signals | null = null;
  /** The newest checkpoint on disk (null before the first save): what a second signal keeps. */
  lastCheckpoint: string | null = null;
  /** Called before a message is printed (the trainer stops its progress bar there). */
  beforeMessage: () => void = () => {};
  private readonly handler = (sig: NodeJS.Signals) => {
    this.beforeMessage();
    if (this.requested) {
      process.stderr.write(
        this.lastCheckpoint
          ? `\n${sig} again: exiting now; the last complete checkpoint (${this.lastCheckpoint}) is kept.\n`
          : `\n${sig} again: exiting now, before any checkpoint was saved: this run will start from the beginning.\n`,
      );
      process.exit(130);
      return;
    }
    this.requested = sig;
    process.stderr.write(`\n${sig}: finishing this iteration and saving a checkpoint (again to exit at once)\n`);
  };

  install(): this {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
    return this;
  }

  uninstall(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

/**
 * Feeds the raw episode scores the env reports into the statistics; episodes cut by an env
 * server restart are counted apart (never as scores) and the restart is logged.
 */
export function episodeHook(
  episodes: EpisodeStats,
  currentStep: () => number,
  onEpisode?: (score: number, length: number) => void,
): (step: AgentStep) => void {
  return (step) => {
    for (const ep of step.episodes ?? []) {
      episodes.add({ score: ep.score, length: ep.length });
      onEpisode?.(ep.score, ep.length);
    }
    const cut = step.cutEpisodes?.length ?? 0;
    episodes.cutEpisodes += cut;
    if (step.restarted) {
      process.stderr.write(
        `\nenv server restarted near step ${currentStep()}: ${cut} episode(s) cut and left out of the scores; training goes on\n`,
      );
    }
  };
}

export async function runTraining(opts: TrainerOptions, stop: StopSignal): Promise<StopReason> {
  const { agent, counters, metrics, episodes } = opts;
  const progress = new Progress(opts.budgetSteps, counters.steps, opts.label, opts.showProgress);
  // A redrawn bar would overwrite the lines a signal prints: stop it for good first.
  stop.beforeMessage = () => progress.stop();
  const t0 = Date.now();
  const wall0 = counters.wallSeconds;
  // Logs and checkpoints fall on multiples of their intervals, so a resumed run keeps the cadence.
  const crossed = (prev: number, now: number, every: number) => Math.floor(now / every) > Math.floor(prev / every);
  const end = Math.min(opts.budgetSteps, opts.stopAt ?? Number.POSITIVE_INFINITY);
  let windowStart = { time: Date.now(), steps: counters.steps };
  let sps = 0;
  let windowClosed = false;
  let lastScalars: Record<string, number> = {};
  let reason: StopReason = 'budget';
  try {
    while (counters.steps < end) {
      if (stop.requested) {
        reason = 'signal';
        break;
      }
      const it = await agent.iterate();
      const prev = counters.steps;
      counters.steps += it.envSteps;
      counters.frames = counters.steps * opts.frameSkip;
      counters.updates += it.updates;
      counters.wallSeconds = wall0 + (Date.now() - t0) / 1000;
      if (Object.keys(it.scalars).length) lastScalars = it.scalars;

      const now = Date.now();
      if (now - windowStart.time >= 2000) {
        sps = ((counters.steps - windowStart.steps) * 1000) / (now - windowStart.time);
        windowStart = { time: now, steps: counters.steps };
        windowClosed = true;
      } else if (!windowClosed && now > windowStart.time) {
        // Before the first 2-second window closes: the rate so far, not 0 (early records and time/fps).
        sps = ((counters.steps - windowStart.steps) * 1000) / (now - windowStart.time);
      }
      progress.update({
        steps: counters.steps,
        frames: counters.frames,
        sps,
        score: episodes.meanScore(),
        episodes: episodes.episodes,
      });

      // The last step of the budget is always logged, so every run's curve reaches its end.
      if (
        crossed(prev, counters.steps, opts.logEvery) ||
        (counters.steps >= opts.budgetSteps && prev < opts.budgetSteps)
      ) {
        metrics.log({
          step: counters.steps,
          frames: counters.frames,
          time: counters.wallSeconds,
          updates: counters.updates,
          sps,
          episodes: episodes.episodes,
          score: episodes.meanScore(),
          episodeLength: episodes.meanLength(),
          cutEpisodes: episodes.cutEpisodes,
          ...lastScalars,
          ...(opts.extraScalars?.() ?? {}),
        });
      }
      if (crossed(prev, counters.steps, opts.checkpointEvery) && counters.steps < end) {
        await opts.save('periodic');
      }
    }
  } finally {
    progress.stop();
    metrics.flush();
  }
  if (reason !== 'signal' && counters.steps < opts.budgetSteps) reason = 'paused';
  await opts.save(reason === 'signal' ? 'signal' : 'final');
  metrics.flush();
  return reason;
}
