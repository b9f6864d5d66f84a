// Evaluation episodes with a fixed quota per env, as Stable-Baselines3's `evaluate_policy`: to play
// N episodes on k envs, env i targets floor((N + i) / k) episodes and the episodes it finishes past
// its quota are not counted. Keeping the first N episodes that finish anywhere would favour short
// episodes (an env whose games end quickly would fill the sample), so the mean would depend on
// episode length; with a quota it does not.
import { max, mean, median, min, standardDeviation } from 'simple-statistics';
import type { AgentEnv } from '../agent.js';

export interface EvalEpisode {
  /** Env slot that played it. */
  env: number;
  /** Raw game score (not clipped, whole game). */
  score: number;
  /** Agent steps. */
  steps: number;
  /** Emulator frames (steps x frame skip). */
  frames: number;
}

export interface Spread {
  mean: number;
  /** Population standard deviation (numpy's np.std, as SB3 reports). */
  std: number;
  median: number;
  min: number;
  max: number;
}

/** Episodes each env must finish: env i gets floor((episodes + i) / numEnvs); they sum to `episodes`. */
export function episodeQuota(episodes: number, numEnvs: number): number[] {
  return Array.from({ length: numEnvs }, (_, i) => Math.floor((episodes + i) / numEnvs));
}

/**
 * Plays until every env has finished its quota; `policy` maps a batch of observations to actions.
 * Bounded: every env finishes an episode within the env's time limit, so the loop ends after at
 * most max(quota) time limits of steps.
 */
export async function playEpisodes(
  env: AgentEnv,
  policy: (obs: Uint8Array | Float32Array) => Int32Array,
  opts: { episodes: number; seed: number; frameSkip: number },
): Promise<EvalEpisode[]> {
  const quota = episodeQuota(opts.episodes, env.numEnvs);
  const done = new Array<number>(env.numEnvs).fill(0);
  const out: EvalEpisode[] = [];
  let { obs } = await env.reset(opts.seed);
  while (out.length < opts.episodes) {
    const step = await env.step(policy(obs));
    for (const ep of step.episodes ?? []) {
      if (done[ep.env] >= quota[ep.env]) continue;
      done[ep.env]++;
      out.push({ env: ep.env, score: ep.score, steps: ep.length, frames: ep.length * opts.frameSkip });
    }
    obs = step.obs;
  }
  return out;
}

export function spread(xs: number[]): Spread {
  return { mean: mean(xs), std: standardDeviation(xs), median: median(xs), min: min(xs), max: max(xs) };
}
