// An A/B experiment on disk:
//   NAME/manifest.json                          what the experiment is and the status of every run
//   NAME/configs/<game>/<arm>/seed-<s>.json     the resolved run configuration each run starts from
//   NAME/runs/<game>/<arm>/seed-<s>/            an ordinary run directory (coordrl train/resume/eval)
//   NAME/runs/<game>/<arm>/seed-<s>/final.json  the run's final score, written after its evaluation
// The disk is the truth: a run is trained when its newest good checkpoint reached the budget, and
// done when final.json exists; the manifest records what the runner saw and is rewritten atomically.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { listCheckpoints } from '../checkpoint/checkpoint.js';
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
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new UserFacingError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (m?.format !== MANIFEST_FORMAT || !Array.isArray(m.runs)) {
    throw new UserFacingError(`${file} is not a coordrl A/B manifest`);
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new UserFacingError(
      `${file} has manifest version ${m.version}; this coordrl reads version ${MANIFEST_VERSION}`,
    );
  }
  return m;
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
  return JSON.parse(readFileSync(path.join(expDir, run.configFile), 'utf8')) as RunConfig;
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
}

/** What the disk says about a run (checkpoints checked by manifest and sizes, not checksums). */
export async function probeRun(runDir: string): Promise<RunProbe> {
  const final = readFinal(runDir);
  if (!existsSync(path.join(runDir, 'config.json'))) {
    return { state: final ? 'final' : 'new', steps: 0, budgetSteps: null, final };
  }
  const run = readRunFile(runDir);
  const checkpoints = await listCheckpoints(runDir, { verify: 'quick' });
  const newest = checkpoints.filter((c) => c.status === 'ok').at(-1);
  const steps = newest?.step ?? 0;
  if (final) return { state: 'final', steps, budgetSteps: run.budgetSteps, final };
  return { state: steps >= run.budgetSteps ? 'trained' : 'partial', steps, budgetSteps: run.budgetSteps, final: null };
}
