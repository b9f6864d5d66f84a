// An A/B experiment as it stands on disk, read into plain data for summary-compute.ts: the manifest,
// and per run its final score, run file, metrics and versions (each null or empty where missing
// or unreadable: a summary works on a partly finished experiment). Everything the summary reads
// from disk is read here.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { frameSkipFor } from '../config.js';
import type { RunConfig } from '../run-config.js';
import { type MetricsRecord, readMetrics } from '../training/metrics.js';
import { defaultBudget, RUN_VERSIONS_FILE, type RunFile, type RunVersions } from '../training/run.js';
import {
  type FinalFile,
  type Manifest,
  type ManifestRun,
  readFinal,
  readManifest,
  readRunConfigFile,
} from './manifest.js';

export interface RunOnDisk {
  run: ManifestRun;
  /** final.json (null: not written yet, or torn). */
  final: FinalFile | null;
  /** Whether the run's config.json exists (the run has started). */
  started: boolean;
  /** config.json, parsed (null: missing or unreadable). */
  runFile: RunFile | null;
  /** metrics.jsonl, in file order. */
  metrics: MetricsRecord[];
  /** Training budget: from config.json, else the manifest, else the resolved config's default. */
  budgetSteps: number;
  frameSkip: number;
  versions: RunVersions | null;
}

export interface ExperimentOnDisk {
  /** The experiment directory, resolved. */
  dir: string;
  manifest: Manifest;
  /** In manifest order. */
  runs: RunOnDisk[];
  /** The resolved configuration of each arm's first run on the first game (for the config diff). */
  armConfigs: { arm: string; config: RunConfig }[];
}

function readJson<T>(file: string): T | null {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  } catch {
    return null;
  }
}

function loadRun(expDir: string, run: ManifestRun): RunOnDisk {
  const runDir = path.join(expDir, run.dir);
  const runFile = readJson<RunFile>(path.join(runDir, 'config.json'));
  return {
    run,
    final: readFinal(runDir),
    started: existsSync(path.join(runDir, 'config.json')),
    runFile,
    metrics: readMetrics(path.join(runDir, 'metrics.jsonl')),
    budgetSteps: runFile?.budgetSteps ?? run.budgetSteps ?? defaultBudget(readRunConfigFile(expDir, run)),
    frameSkip: runFile?.frameSkip ?? frameSkipFor(run.env),
    versions: readJson<RunVersions>(path.join(runDir, RUN_VERSIONS_FILE)),
  };
}

export function loadExperiment(expDir: string): ExperimentOnDisk {
  const manifest = readManifest(expDir);
  const firstGame = manifest.envs[0]?.game;
  const armConfigs = manifest.arms
    .map(({ name: arm }) => {
      const run = manifest.runs.find((r) => r.game === firstGame && r.arm === arm);
      return run ? { arm, config: readRunConfigFile(expDir, run) } : null;
    })
    .filter((c): c is NonNullable<typeof c> => c !== null);
  return {
    dir: path.resolve(expDir),
    manifest,
    runs: manifest.runs.map((run) => loadRun(expDir, run)),
    armConfigs,
  };
}
