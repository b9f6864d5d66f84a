// An A/B experiment on disk:
//   NAME/manifest.json                          what the experiment is and the status of every run
//   NAME/configs/<game>/<arm>/seed-<s>.json     the resolved run configuration each run starts from
//   NAME/runs/<game>/<arm>/seed-<s>/            an ordinary run directory (coordrl train/resume/eval)
//   NAME/runs/<game>/<arm>/seed-<s>/final.json  the run's final score, written after its evaluation
// The disk is the truth: a run is trained when its newest good checkpoint reached the budget, and
// done when final.json exists; the manifest records what the runner saw and is rewritten atomically.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { listCheckpoints } from '../checkpoint/checkpoint.js';
import { MAX_ENV_NAME } from '../config.js';
import type { RunConfig } from '../run-config.js';
import type { Spread } from '../training/evaluation.js';
import { readRunFile } from '../training/run.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { PACKAGE_VERSION } from '../version.js';
import { type Arm, armRunConfig, gameSlug } from './arms.js';

export const MANIFEST_FORMAT = 'coordrl-ab';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const FINAL_FILE = 'final.json';

/**
 * pending: not started; running: a child is working on it; interrupted: stopped before its
 * budget (resume continues it); trained: budget reached, not evaluated; done: final.json written;
 * failed: a child failed (resume retries it).
 */
export type RunStatus = 'pending' | 'running' | 'interrupted' | 'trained' | 'done' | 'failed';

export interface ManifestRun {
  /** `<game>/<arm>/seed-<s>` */
  id: string;
  game: string;
  env: string;
  arm: string;
  seed: number;
  /** Run directory, relative to the experiment directory. */
  dir: string;
  /** Resolved run configuration file, relative to the experiment directory. */
  configFile: string;
  status: RunStatus;
  /** Agent steps in the newest good checkpoint, as last seen. */
  steps: number;
  budgetSteps: number | null;
  finalScore: number | null;
  scoreSource: ScoreSource | null;
  /** Child processes started for training this run (train + resumes). */
  trainLaunches: number;
  error?: string;
  updatedAt: string;
}

export type ScoreSource = 'eval' | 'train-window';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  coordrl: string;
  createdAt: string;
  updatedAt: string;
  /** The command line that made the experiment (for the record). */
  command: string[];
  algo: string;
  envs: { env: string; game: string }[];
  arms: Arm[];
  seeds: number[];
  /** Greedy evaluation episodes per run; 0 uses the last training score window instead. */
  evalEpisodes: number;
  /** Base settings given as flags (under the arms' fields). */
  base: Record<string, unknown>;
  /** The base config file named with --config (its settings are inside every run's config). */
  configFile: string | null;
  runs: ManifestRun[];
}

export interface FinalFile {
  coordrl: string;
  createdAt: string;
  /** How `score` was obtained. */
  source: ScoreSource;
  /** The run's final score: mean raw game score. */
  score: number;
  /** Step of the checkpoint that was evaluated (or the trained steps for train-window). */
  checkpointStep: number;
  eval: {
    episodes: number;
    scores: number[];
    mean: number;
    median: number;
    min: number;
    max: number;
    /** Population std of the scores, episodes per env, episode lengths in steps (absent in older files). */
    std?: number;
    quota?: number[];
    lengthSteps?: Spread;
  } | null;
  /** Mean raw score of the last 100 training episodes at the end of training, when known. */
  trainScore: number | null;
}

// The experiment's files are written through the shared atomic writer; runner.ts and
// slurm-executor.ts import it from here.
export { writeJsonAtomic };

export function manifestPath(expDir: string): string {
  return path.join(expDir, MANIFEST_FILE);
}

export function readManifest(expDir: string): Manifest {
  const file = manifestPath(expDir);
  if (!existsSync(file)) throw new UsageError(`${expDir} is not an A/B experiment (no ${MANIFEST_FILE})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserFacingError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const head = raw as { format?: unknown; runs?: unknown; version?: unknown } | null;
  if (head?.format !== MANIFEST_FORMAT || !Array.isArray(head.runs)) {
    throw new UserFacingError(`${file} is not a coordrl A/B manifest`);
  }
  if (head.version !== MANIFEST_VERSION) {
    throw new UserFacingError(
      `${file} has manifest version ${String(head.version)}; this coordrl reads version ${MANIFEST_VERSION}`,
    );
  }
  const m = validateManifest(raw, file);
  checkPathsInside(expDir, m, file);
  return m;
}

// ---- the manifest's schema: every field the runner, the Slurm executor and the report use ----

/** A path inside the experiment, relative to it: no absolute path, no `..` (checked again resolved). */
const insidePath = z
  .string()
  .min(1)
  .max(1000)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..') && !p.includes('\0'), {
    message: 'must be a path inside the experiment directory (relative, without ..)',
  });

/** `<game>/<arm>/seed-<s>`: also a file name under slurm/state/, so no `..` or other segments. */
const RUN_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*\/seed-\d+$/;

const manifestRunSchema = z.looseObject({
  id: z.string().regex(RUN_ID, 'must look like <game>/<arm>/seed-<n>'),
  game: z.string().min(1).max(200),
  env: z.string().min(1).max(MAX_ENV_NAME),
  arm: z.string().min(1).max(64),
  seed: z.number().int().nonnegative(),
  dir: insidePath,
  configFile: insidePath,
  status: z.enum(['pending', 'running', 'interrupted', 'trained', 'done', 'failed']).default('pending'),
  steps: z.number().int().nonnegative().default(0),
  budgetSteps: z.number().int().positive().nullable().default(null),
  finalScore: z.number().nullable().default(null),
  scoreSource: z.enum(['eval', 'train-window']).nullable().default(null),
  trainLaunches: z.number().int().nonnegative().default(0),
  error: z.string().optional(),
  updatedAt: z.string().default(''),
});

const manifestSchema = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.number(),
  coordrl: z.string().default('unknown'),
  createdAt: z.string().default(''),
  updatedAt: z.string().default(''),
  command: z.array(z.string()).default([]),
  algo: z.string().min(1),
  envs: z.array(z.object({ env: z.string().min(1).max(MAX_ENV_NAME), game: z.string().min(1) })).min(1),
  arms: z.array(z.object({ name: z.string().min(1).max(64), fields: z.record(z.string(), z.unknown()) })).min(1),
  seeds: z.array(z.number().int().nonnegative()).min(1),
  evalEpisodes: z.number().int().nonnegative(),
  base: z.record(z.string(), z.unknown()).default({}),
  configFile: z.string().nullable().default(null),
  runs: z.array(manifestRunSchema),
});

function validateManifest(raw: unknown, file: string): Manifest {
  const r = manifestSchema.safeParse(raw);
  if (r.success) return r.data as Manifest;
  // The first few problems: a manifest of 100 empty runs would otherwise make a very long line.
  const problems = r.error.issues.slice(0, 3).map((i) => {
    const field = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    return field ? `${field.replace(/^\./, '')}: ${i.message}` : i.message;
  });
  const more = r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : '';
  throw new UserFacingError(`${file} is not a valid A/B manifest: ${problems.join('; ')}${more}`);
}

/** Every run directory and config file, resolved, lies inside the experiment directory. */
function checkPathsInside(expDir: string, m: Manifest, file: string): void {
  const root = path.resolve(expDir);
  for (const [i, run] of m.runs.entries()) {
    for (const key of ['dir', 'configFile'] as const) {
      const p = path.resolve(root, run[key]);
      if (p === root || !p.startsWith(`${root}${path.sep}`)) {
        throw new UserFacingError(
          `${file} is not a valid A/B manifest: runs[${i}].${key}: ${JSON.stringify(run[key])} is not inside ${root}`,
        );
      }
    }
  }
}

export function writeManifest(expDir: string, m: Manifest): void {
  m.updatedAt = new Date().toISOString();
  writeJsonAtomic(manifestPath(expDir), m);
}

export function runId(game: string, arm: string, seed: number): string {
  return `${game}/${arm}/seed-${seed}`;
}

export interface ExperimentSpec {
  algo: string;
  envs: string[];
  arms: Arm[];
  seeds: number[];
  evalEpisodes: number;
  base: Record<string, unknown>;
  configFile?: string;
  command?: string[];
}

/** Every run's resolved configuration, seed-major (seed 1 of every game and arm first), validated. */
export function planRuns(spec: ExperimentSpec): { run: Omit<ManifestRun, 'updatedAt'>; config: RunConfig }[] {
  const out: { run: Omit<ManifestRun, 'updatedAt'>; config: RunConfig }[] = [];
  for (const seed of spec.seeds) {
    for (const env of spec.envs) {
      const game = gameSlug(env);
      for (const arm of spec.arms) {
        const config = armRunConfig({
          base: { ...spec.base, algo: spec.algo },
          configFile: spec.configFile,
          arm,
          env,
          seed,
        });
        const id = runId(game, arm.name, seed);
        out.push({
          run: {
            id,
            game,
            env,
            arm: arm.name,
            seed,
            dir: path.join('runs', game, arm.name, `seed-${seed}`),
            configFile: path.join('configs', game, arm.name, `seed-${seed}.json`),
            status: 'pending',
            steps: 0,
            budgetSteps: null,
            finalScore: null,
            scoreSource: null,
            trainLaunches: 0,
          },
          config,
        });
      }
    }
  }
  return out;
}

/** Writes a new experiment directory (manifest + run configs). Refuses to overwrite one. */
export function createExperiment(expDir: string, spec: ExperimentSpec): Manifest {
  if (existsSync(manifestPath(expDir))) {
    throw new UsageError(`${expDir} already holds an experiment; continue it with \`coordrl ab --resume ${expDir}\``);
  }
  const plan = planRuns(spec);
  const now = new Date().toISOString();
  mkdirSync(expDir, { recursive: true });
  for (const p of plan) writeJsonAtomic(path.join(expDir, p.run.configFile), p.config);
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    coordrl: PACKAGE_VERSION,
    createdAt: now,
    updatedAt: now,
    command: spec.command ?? [],
    algo: spec.algo,
    envs: spec.envs.map((env) => ({ env, game: gameSlug(env) })),
    arms: spec.arms,
    seeds: spec.seeds,
    evalEpisodes: spec.evalEpisodes,
    base: spec.base,
    configFile: spec.configFile ? path.resolve(spec.configFile) : null,
    runs: plan.map((p) => ({ ...p.run, updatedAt: now })),
  };
  writeManifest(expDir, m);
  return m;
}

export function readRunConfigFile(expDir: string, run: ManifestRun): RunConfig {
  const file = path.join(expDir, run.configFile);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunConfig;
  } catch (e) {
    throw new UserFacingError(`${run.id}: cannot read its run configuration ${file}: ${(e as Error).message}`);
  }
}

export function readFinal(runDir: string): FinalFile | null {
  const file = path.join(runDir, FINAL_FILE);
  if (!existsSync(file)) return null;
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as FinalFile;
    return typeof f.score === 'number' && Number.isFinite(f.score) ? f : null;
  } catch {
    return null; // a torn write is redone by the runner
  }
}

export interface RunProbe {
  /** new: nothing on disk; partial: started, below budget; trained: budget reached; final: final.json. */
  state: 'new' | 'partial' | 'trained' | 'final';
  steps: number;
  budgetSteps: number | null;
  final: FinalFile | null;
  /** partial with checkpoints but no config.json (lost): it must be rebuilt before a resume. */
  lostConfig?: boolean;
}

/** What the disk says about a run (checkpoints checked by manifest and sizes, not checksums). */
export async function probeRun(runDir: string): Promise<RunProbe> {
  const final = readFinal(runDir);
  if (!existsSync(path.join(runDir, 'config.json'))) {
    // Checkpoints without config.json: a started run that lost its config, not a new one (a new
    // run there would train from step 0 over the checkpoints).
    const kept = final ? [] : await listCheckpoints(runDir, { verify: 'quick' });
    if (kept.length) {
      const newest = kept.filter((c) => c.status === 'ok').at(-1);
      return { state: 'partial', steps: newest?.step ?? 0, budgetSteps: null, final: null, lostConfig: true };
    }
    return { state: final ? 'final' : 'new', steps: 0, budgetSteps: null, final };
  }
  const run = readRunFile(runDir);
  const checkpoints = await listCheckpoints(runDir, { verify: 'quick' });
  const newest = checkpoints.filter((c) => c.status === 'ok').at(-1);
  const steps = newest?.step ?? 0;
  if (final) return { state: 'final', steps, budgetSteps: run.budgetSteps, final };
  return { state: steps >= run.budgetSteps ? 'trained' : 'partial', steps, budgetSteps: run.budgetSteps, final: null };
}
