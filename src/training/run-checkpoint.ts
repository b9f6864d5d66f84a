// What a training run puts in a checkpoint, and how it comes back. Layout of one checkpoint:
//   models/<name>/{model.json,weights.bin}   tfjs LayersModel format (tf.loadLayersModel works)
//   optimizer.{json,bin}                      optimizer slots, iteration count, Adam beta powers
//   state.json                                counters, RNG state, episode statistics, segment
//   replay.*                                  the replay buffer (DQN)
// Writing is atomic and verified by src/checkpoint (temp dir, fsync, manifest, rename).
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrainableAgent } from '../agent.js';
import {
  type CheckpointInfo,
  describeSkipped,
  listCheckpoints,
  loadLatestGood,
  loadModelFromDir,
  readOptimizerState,
  restoreOptimizerState,
  saveCheckpoint,
  saveModelToDir,
  saveOptimizerState,
  writeOptimizerState,
} from '../checkpoint/index.js';
import { loadReplayBuffer } from '../replay/index.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import type { Rng, RngState } from '../util/rng.js';
import type { EpisodeStats } from './episodes.js';
import type { TrainerCounters } from './trainer.js';

const STATE_FILE = 'state.json';
const STATE_VERSION = 1;

interface StateFile {
  version: number;
  counters: TrainerCounters;
  agentCounters: Record<string, number>;
  rng: RngState;
  episodes: ReturnType<EpisodeStats['toJSON']>;
  segment: number;
  hasReplay: boolean;
}

export interface RunCheckpointState {
  counters: TrainerCounters;
  rng: RngState;
  episodes: ReturnType<EpisodeStats['toJSON']>;
  segment: number;
  /** Restores models, optimizer state, agent counters and replay buffer into a fresh agent. */
  restoreAgent(agent: TrainableAgent, opts?: { modelsOnly?: boolean }): Promise<void>;
}

export async function saveRunCheckpoint(
  runDir: string,
  s: {
    agent: TrainableAgent;
    counters: TrainerCounters;
    episodes: EpisodeStats;
    rng: Rng;
    segment: number;
    keep: number;
  },
): Promise<string> {
  const parts = s.agent.checkpointParts();
  const optimizerState = await saveOptimizerState(parts.optimizer, parts.varList);
  const result = await saveCheckpoint(
    runDir,
    s.counters.steps,
    async (dir) => {
      for (const [name, model] of Object.entries(parts.models)) {
        const d = path.join(dir, 'models', name);
        await mkdir(d, { recursive: true });
        await saveModelToDir(model, d);
      }
      await writeOptimizerState(dir, optimizerState);
      if (parts.replay) await parts.replay.save(dir, 'replay');
      const state: StateFile = {
        version: STATE_VERSION,
        counters: { ...s.counters },
        agentCounters: parts.counters,
        rng: s.rng.getState(),
        episodes: s.episodes.toJSON(),
        segment: s.segment,
        hasReplay: Boolean(parts.replay),
      };
      await writeFile(path.join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    },
    { keepLast: s.keep, meta: { frames: s.counters.frames, episodes: s.episodes.episodes } },
  );
  for (const w of result.warnings) process.stderr.write(`checkpoint warning: ${w}\n`);
  return result.name;
}

async function readState(dir: string): Promise<StateFile> {
  const state = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as StateFile;
  if (state.version !== STATE_VERSION) {
    throw new Error(`state.json version ${state.version}; this build reads version ${STATE_VERSION}`);
  }
  return state;
}

function loader(dir: string): Promise<RunCheckpointState> {
  return readState(dir).then((state) => ({
    counters: state.counters,
    rng: state.rng,
    episodes: state.episodes,
    segment: state.segment,
    async restoreAgent(agent: TrainableAgent, opts: { modelsOnly?: boolean } = {}) {
      const parts = agent.checkpointParts();
      for (const [name, model] of Object.entries(parts.models)) {
        const loaded = await loadModelFromDir(path.join(dir, 'models', name));
        model.setWeights(loaded.getWeights());
        loaded.dispose();
      }
      if (opts.modelsOnly) return;
      // The learning rate may follow a schedule: its config need not match.
      await restoreOptimizerState(parts.optimizer, parts.varList, await readOptimizerState(dir), {
        ignoreConfig: true,
      });
      const replay = state.hasReplay ? await loadReplayBuffer(dir, 'replay') : undefined;
      agent.restoreCounters(state.agentCounters, replay);
    },
  }));
}

/** The newest checkpoint that verifies and whose state reads, with what was skipped and why. */
export async function loadRunCheckpoint(
  runDir: string,
): Promise<{ state: RunCheckpointState | null; name: string | null; skipped: { name: string; reason: string }[] }> {
  const r = await loadLatestGood(runDir, loader);
  const lines = describeSkipped(r.skipped);
  return {
    state: r.value ?? null,
    name: r.checkpoint?.name ?? null,
    skipped: r.skipped.map((s, i) => ({ name: s.name, reason: lines[i] })),
  };
}

export async function listRunCheckpoints(
  runDir: string,
): Promise<{ name: string; step: number | null; status: string }[]> {
  let infos: CheckpointInfo[] = [];
  try {
    await readdir(runDir);
    infos = await listCheckpoints(runDir, { verify: 'full' });
  } catch {
    return [];
  }
  return infos
    .map((c) => ({ name: c.name, step: c.step ?? null, status: c.status + (c.reason ? ` (${c.reason})` : '') }))
    .reverse();
}

/**
 * One checkpoint chosen by name (`step-000012000`, as `coordrl info` lists them) or by its step
 * (`12000`); a clear error that lists the good ones when it is missing or does not verify.
 */
export async function loadNamedRunCheckpoint(
  runDir: string,
  wanted: string,
): Promise<{ state: RunCheckpointState; name: string }> {
  const all = await listCheckpoints(runDir, { verify: 'full' });
  const good = all.filter((c) => c.status === 'ok').map((c) => c.name);
  const available = good.length ? `available: ${good.join(', ')}` : 'the run has no good checkpoint';
  const key = wanted.trim();
  const found = all.find((c) => c.name === key || (/^\d+$/.test(key) && c.step === Number(key)));
  if (!found) throw new UsageError(`no checkpoint '${wanted}' in ${runDir}; ${available}`);
  if (found.status !== 'ok') {
    throw new UserFacingError(
      `checkpoint ${found.name} in ${runDir} is ${found.status}${found.reason ? ` (${found.reason})` : ''}; ${available}`,
    );
  }
  try {
    return { state: await loader(found.dir), name: found.name };
  } catch (e) {
    throw new UserFacingError(
      `checkpoint ${found.name} in ${runDir} cannot be read: ${(e as Error).message}; ${available}`,
    );
  }
}
