// Makes the vector environment of a run from its configuration (through the Python bridge).
import { BridgeError, type BridgeVecEnv, makeVecEnv, type VecEnv } from '../../envs/index.js';
import type { AgentEnv } from '../agent.js';
import { algorithm } from '../algorithms/registry.js';
import { isAtari, isMinAtar } from '../config.js';
import type { RunConfig } from '../run-config.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { checkKeysDir } from './preflight.js';

type EnvConfig = Pick<
  RunConfig,
  | 'env'
  | 'stickyActions'
  | 'fullActionSpace'
  | 'difficultyRamping'
  | 'lifeLoss'
  | 'lifeLossFire'
  | 'maxEpisodeFrames'
  | 'envServers'
  | 'envKeys'
>;

export interface EnvSpaces {
  observationSpace: VecEnv['observationSpace'];
  actionSpace: VecEnv['actionSpace'];
}

/**
 * Training env: sticky actions, life-loss signal (Atari), difficulty ramping (MinAtar) as configured,
 * raw scores reported. FIRE after a lost life follows the config (on with lifeLoss and lifeLossFire)
 * unless `opts.lifeLossFire` says otherwise (evaluation turns the life-loss signal off but keeps the
 * FIRE the agent was trained with).
 */
export async function createEnv(
  config: EnvConfig,
  numEnvs: number,
  opts: { groups?: number; lifeLossFire?: boolean } = {},
): Promise<BridgeVecEnv> {
  // Envs on other machines: one group per server, so each server steps its share.
  const remote = config.envServers
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((endpoint) => ({ endpoint, keysDir: config.envKeys }));
  if (remote?.length && config.envKeys) checkKeysDir(config.envKeys);
  return makeVecEnv({
    env: config.env,
    numEnvs,
    groups: remote?.length ? Math.min(numEnvs, Math.max(opts.groups ?? 1, remote.length)) : opts.groups,
    servers: remote?.length ? remote : undefined,
    atari: isAtari(config.env)
      ? {
          repeatActionProbability: config.stickyActions,
          fullActionSpace: config.fullActionSpace,
          lifeLossInfo: config.lifeLoss,
          fireOnLifeLoss: opts.lifeLossFire ?? (config.lifeLoss && config.lifeLossFire),
          maxNumFramesPerEpisode: config.maxEpisodeFrames,
        }
      : undefined,
    minatar: isMinAtar(config.env)
      ? {
          stickyActionProb: config.stickyActions,
          fullActionSpace: config.fullActionSpace,
          difficultyRamping: config.difficultyRamping,
          maxEpisodeSteps: config.maxEpisodeFrames,
        }
      : undefined,
  }).catch((e: unknown) => {
    // A misspelt game is the user's to fix (exit 2), with the server's close-match suggestion.
    if (e instanceof BridgeError && e.code === 'unknown_env')
      throw new UsageError(e.message.replace(/^env server: /, ''));
    // An optional package (MinAtar's) not installed: the server's one line says how to install it.
    if (e instanceof BridgeError && e.code === 'missing_package')
      throw new UserFacingError(e.message.replace(/^env server: /, ''));
    throw e;
  });
}

/**
 * Env groups a run's training env is made of: its algorithm's choice (A2C with `--pipeline` steps
 * two halves in turn, see src/algorithms/a2c.ts); remote env servers add their own groups.
 */
export function trainingEnvGroups(config: RunConfig): number {
  return algorithm(config.algo).envGroups(config);
}

/** Observation and action spaces of an env (starts a server for a moment). */
export async function probeEnvSpaces(
  config: Pick<
    RunConfig,
    'env' | 'stickyActions' | 'fullActionSpace' | 'difficultyRamping' | 'lifeLoss' | 'lifeLossFire' | 'maxEpisodeFrames'
  >,
): Promise<EnvSpaces> {
  const env = await createEnv(config, 1);
  try {
    return { observationSpace: env.observationSpace, actionSpace: env.actionSpace };
  } finally {
    await env.close();
  }
}

export function envRestarts(env: AgentEnv): number {
  return (env as Partial<BridgeVecEnv>).serverRestarts ?? 0;
}

/** The Python package versions the env's (first) server reported in its hello, or null. */
export function envServerVersions(env: AgentEnv): Record<string, string> | null {
  return (env as Partial<BridgeVecEnv>).servers?.[0]?.info.versions ?? null;
}

export async function closeEnv(env: AgentEnv): Promise<void> {
  await (env as Partial<VecEnv>).close?.();
}
