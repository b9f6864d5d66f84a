// What a training run puts in a checkpoint, and how it comes back. Layout of one checkpoint:
//   models/<name>/{model.json,weights.bin}   tfjs LayersModel format (tf.loadLayersModel works)
//   optimizer.{json,bin}                      optimizer slots, iteration count, Adam beta powers
//   state.json                                counters, RNG state, episode statistics, segment
//   replay.*                                  the replay buffer (DQN)
// Writing is atomic and verified by src/checkpoint (temp dir, fsync, manifest, rename).
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { TrainableAgent } from '../agent.js';
import {
  type CheckpointInfo,
  checkpointsDir,
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
import { loadReplayBuffer, type ReplayBuffer } from '../replay/index.js';
import type { RunConfig } from '../run-config.js';
import { tf } from '../tf.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import type { Rng, RngState } from '../util/rng.js';
import type { EpisodeStats } from './episodes.js';
import type { TrainerCounters } from './trainer.js';

const STATE_FILE = 'state.json';
const STATE_VERSION = 1;

// state.json is checked field by field: a checkpoint whose files verify but whose state is wrong
// (a hand edit, a bug of an older build) is skipped with the field named, never half-loaded.
const count = z.number().int().nonnegative();
const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  counters: z.object({ steps: count, frames: count, updates: count, wallSeconds: z.number().nonnegative() }),
  agentCounters: z.record(z.string(), z.number()),
  rng: z.object({
    algorithm: z.literal('xoshiro128**'),
    s: z.tuple([count, count, count, count]),
    spare: z.number().nullable(),
  }),
  episodes: z.object({
    recent: z.array(z.object({ score: z.number(), length: count })),
    episodes: count,
    cutEpisodes: count,
    // -Infinity (no episode yet) is written as null by JSON.
    best: z.number().nullable(),
  }),
  segment: count,
  hasReplay: z.boolean(),
  /** The run configuration at save time (absent in checkpoints of older builds). */
  config: z.record(z.string(), z.unknown()).optional(),
});
type StateFile = z.infer<typeof stateSchema>;

/**
 * Settings a checkpoint is tied to: change one and its networks, optimizer slots or replay no
 * longer fit (or mean something else). The others (learning rate, intervals, ...) may change.
 */
const BINDING_FIELDS = [
  'algo',
  'env',
  'torso',
  'coordconvAt',
  'withR',
  'fullActionSpace',
  'numEnvs',
  'dueling',
  'bufferSize',
  'nStep',
] as const;

export interface RunCheckpointState {
  /** The run configuration the checkpoint was saved with (absent in checkpoints of older builds). */
  config?: Record<string, unknown>;
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
    config?: RunConfig;
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
        ...(s.config ? { config: { ...s.config } } : {}),
      };
      await writeFile(path.join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    },
    { keepLast: s.keep, meta: { frames: s.counters.frames, episodes: s.episodes.episodes } },
  );
  for (const w of result.warnings) process.stderr.write(`checkpoint warning: ${w}\n`);
  return result.name;
}

async function readState(dir: string): Promise<StateFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8'));
  } catch (e) {
    throw new Error(`${STATE_FILE}: ${(e as Error).message}`);
  }
  const r = stateSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${STATE_FILE}: '${i.path.join('.')}': ${i.message}`);
  }
  return r.data;
}

/** Throws a UsageError (no fallback: the configuration is wrong, not the checkpoint) on a mismatch. */
function checkConfigMatches(saved: Record<string, unknown> | undefined, config: RunConfig, name: string): void {
  if (!saved) return;
  const now = config as Record<string, unknown>;
  for (const key of BINDING_FIELDS) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(now[key])) {
      throw new UsageError(
        `config.json no longer matches checkpoint ${name}: '${key}' is ${JSON.stringify(now[key])} in config.json, ${JSON.stringify(saved[key])} in the checkpoint; put it back or start a new run`,
      );
    }
  }
}

/** An error of one part of a checkpoint, named (models/online, optimizer, replay). */
async function part<T>(name: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function sameShapes(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): boolean {
  return a.length === b.length && a.every((s, i) => s.length === b[i].length && s.every((d, j) => d === b[i][j]));
}

function checkReplayFits(saved: ReplayBuffer, live: ReplayBuffer | undefined): void {
  if (!live) return;
  for (const k of ['numEnvs', 'capacity', 'obsSize', 'nStep'] as const) {
    if (saved[k] !== live[k]) throw new Error(`saved with ${k} ${saved[k]}, this run has ${live[k]}`);
  }
}

/**
 * Loads every part of the checkpoint in `dir` into `agent` (models first checked against the
 * agent's shapes; optimizer and replay are checked by their readers). Throws, naming the part, on
 * the first that does not load: the caller then falls back to an older checkpoint.
 */
async function restoreInto(
  dir: string,
  state: StateFile,
  agent: TrainableAgent,
  opts: { modelsOnly?: boolean },
): Promise<void> {
  const parts = agent.checkpointParts();
  const weights: tf.Tensor[][] = [];
  try {
    for (const [name, model] of Object.entries(parts.models)) {
      weights.push(
        await part(`models/${name}`, async () => {
          const loaded = await loadModelFromDir(path.join(dir, 'models', name));
          const w = loaded.getWeights().map((t) => t.clone());
          loaded.dispose();
          const want = model.getWeights().map((t) => t.shape);
          if (
            !sameShapes(
              w.map((t) => t.shape),
              want,
            )
          ) {
            tf.dispose(w);
            throw new Error("weight shapes differ from this run's network");
          }
          return w;
        }),
      );
    }
    const replay =
      !opts.modelsOnly && state.hasReplay
        ? await part('replay', async () => {
            const r = await loadReplayBuffer(dir, 'replay');
            checkReplayFits(r, parts.replay);
            return r;
          })
        : undefined;
    const optimizerState = opts.modelsOnly ? null : await part('optimizer', () => readOptimizerState(dir));
    Object.values(parts.models).forEach((model, i) => {
      model.setWeights(weights[i]);
    });
    if (optimizerState) {
      // The learning rate may follow a schedule: its config need not match.
      await part('optimizer', () =>
        restoreOptimizerState(parts.optimizer, parts.varList, optimizerState, { ignoreConfig: true }),
      );
    }
    if (!opts.modelsOnly) agent.restoreCounters(state.agentCounters, replay);
  } finally {
    for (const w of weights) tf.dispose(w);
  }
}

function toRunState(dir: string, state: StateFile): RunCheckpointState {
  return {
    config: state.config,
    counters: state.counters,
    rng: state.rng as RngState,
    episodes: { ...state.episodes, best: state.episodes.best ?? Number.NEGATIVE_INFINITY },
    segment: state.segment,
    restoreAgent: (agent, opts = {}) => restoreInto(dir, state, agent, opts),
  };
}

export interface LoadedRunCheckpoint {
  state: RunCheckpointState | null;
  name: string | null;
  /** Newer checkpoints that could not be used, newest first; `reason` is one line (`corrupt: ...`). */
  skipped: { name: string; dir: string; reason: string }[];
}

/**
 * The newest checkpoint whose files verify, whose state reads and whose networks load. With `into`, every part is
 * loaded into that agent inside the fallback (a checkpoint whose weights, optimizer or replay do
 * not load is skipped like a corrupt one), and a checkpoint saved with other binding settings
 * than `config` is an error naming the field.
 */
export async function loadRunCheckpoint(
  runDir: string,
  into?: { agent: TrainableAgent; config: RunConfig; modelsOnly?: boolean },
): Promise<LoadedRunCheckpoint> {
  const r = await loadLatestGood(runDir, async (dir) => {
    const state = await readState(dir);
    if (into) {
      checkConfigMatches(state.config, into.config, path.basename(dir));
      await restoreInto(dir, state, into.agent, { modelsOnly: into.modelsOnly });
    } else {
      // No agent yet (eval): at least every network must load, or an older checkpoint is used.
      for (const name of await readdir(path.join(dir, 'models'))) {
        await part(`models/${name}`, async () => (await loadModelFromDir(path.join(dir, 'models', name))).dispose());
      }
    }
    return toRunState(dir, state);
  });
  const ckDir = checkpointsDir(runDir);
  return {
    state: r.value ?? null,
    name: r.checkpoint?.name ?? null,
    skipped: r.skipped.map((s) => ({
      name: s.name,
      dir: path.join(ckDir, s.name),
      reason:
        s.status === 'load failed'
          ? `corrupt: ${s.reason ?? 'does not load'}`
          : `${s.status}${s.reason ? ` (${s.reason})` : ''}`,
    })),
  };
}

/** Where unusable checkpoints are moved, so that no later save overwrites or prunes them. */
export const CORRUPT_DIR = 'corrupt';

/**
 * Moves the skipped checkpoints to checkpoints/corrupt/ (never deletes them), each with a
 * `<name>.reason.txt` saying why. Returns the directory, or null when there was nothing to move.
 */
export async function setAsideCheckpoints(
  runDir: string,
  skipped: LoadedRunCheckpoint['skipped'],
): Promise<string | null> {
  if (skipped.length === 0) return null;
  const dest = path.join(checkpointsDir(runDir), CORRUPT_DIR);
  await mkdir(dest, { recursive: true });
  const taken = new Set(await readdir(dest));
  for (const s of skipped) {
    let name = s.name;
    for (let k = 2; taken.has(name); k++) name = `${s.name}-${k}`;
    taken.add(name);
    await rename(s.dir, path.join(dest, name));
    await writeFile(path.join(dest, `${name}.reason.txt`), `${s.reason}\n`);
  }
  return dest;
}

/** The one-line error for a command that needs a good checkpoint (eval) and finds none. */
export function noGoodCheckpointError(runDir: string, loaded: LoadedRunCheckpoint, toDo: string): UsageError {
  if (loaded.skipped.length === 0) {
    return new UsageError(`${runDir} has no checkpoint yet to ${toDo}; train it first (\`coordrl resume ${runDir}\`)`);
  }
  const why = loaded.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return new UsageError(`${runDir} has no good checkpoint to ${toDo} (${why})`);
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

// ---- `coordrl info`: the checks resume makes, as far as they go without building the agent ----

/** What `checkRunCheckpoints` checks, and what only a resume (with the env and the agent) can. */
export const INFO_CHECKS = {
  checked:
    'file checksums, state.json, the binding settings against config.json, every network loads, optimizer state reads',
  notChecked:
    "network shapes against the env and the replay buffer's contents (resume checks them and skips a checkpoint that fails)",
};

/**
 * Every checkpoint, newest first, with the checks resume runs before it uses one (see INFO_CHECKS):
 * a checkpoint whose files verify but whose state, settings, networks or optimizer do not is
 * `unusable (...)`, as resume would skip it. The tf backend must be set up (networks are loaded).
 */
export async function checkRunCheckpoints(
  runDir: string,
  config: RunConfig,
): Promise<{ name: string; step: number | null; status: string }[]> {
  const listed = await listRunCheckpoints(runDir);
  const ckDir = checkpointsDir(runDir);
  const out: { name: string; step: number | null; status: string }[] = [];
  for (const c of listed) {
    if (c.status !== 'ok') {
      out.push(c);
      continue;
    }
    const dir = path.join(ckDir, c.name);
    try {
      const state = await readState(dir);
      checkConfigMatches(state.config, config, c.name);
      for (const name of await readdir(path.join(dir, 'models'))) {
        await part(`models/${name}`, async () => (await loadModelFromDir(path.join(dir, 'models', name))).dispose());
      }
      await part('optimizer', () => readOptimizerState(dir));
      out.push(c);
    } catch (e) {
      const why = (e as Error).message.replace(
        /^config\.json no longer matches checkpoint \S+: /,
        'config.json differs: ',
      );
      out.push({ ...c, status: `unusable (${why})` });
    }
  }
  return out;
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
    const state = await readState(found.dir);
    // as for the newest good one: every network must load
    for (const name of await readdir(path.join(found.dir, 'models'))) {
      (await loadModelFromDir(path.join(found.dir, 'models', name))).dispose();
    }
    return { state: toRunState(found.dir, state), name: found.name };
  } catch (e) {
    throw new UserFacingError(
      `checkpoint ${found.name} in ${runDir} cannot be read: ${(e as Error).message}; ${available}`,
    );
  }
}
