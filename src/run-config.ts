// The full configuration of a training run: common settings + the chosen agent's
// hyperparameters, merged from defaults < config file < command-line flags and validated.
import {
  ALGOS,
  type Algo,
  algorithm,
  algorithms,
  algorithmsWithSetting,
  DEFAULT_ALGO,
  isAlgo,
  type RunConfig,
  runConfigSchema,
} from './algorithms/registry.js';
import { commonSchema, isImageEnv, isMinAtar, kebab, pickFlags, readConfigFile, validate } from './config.js';
import { presetFor } from './presets.js';
import { UsageError } from './util/cli-errors.js';
import { listWords } from './util/words.js';

export type { A2CRunConfig } from './algorithms/a2c.js';
export type { DQNRunConfig } from './algorithms/dqn.js';
// The algorithms and the schema of their run configurations are the registry's (src/algorithms/).
export { ALGOS, type Algo, type RunConfig, runConfigSchema };

/** The fields of run configurations (for "did you mean" on an unknown one): `algo`'s first. */
export function runConfigKeys(algo: Algo): string[] {
  return [
    ...new Set([
      'algo',
      ...Object.keys(commonSchema.shape),
      ...Object.keys(algorithm(algo).hyperparameters.shape),
      ...algorithms().flatMap((a) => Object.keys(a.hyperparameters.shape)),
    ]),
  ];
}

/**
 * Merges the env family's preset (the registry entry's, plus src/presets.ts's family settings), a config file (optional) and the flags
 * the user gave, in that order of precedence from lowest, then validates. A flag that
 * belongs to another algorithm is an error that names it, rather than being ignored.
 */
export function resolveRunConfig(flags: Record<string, unknown>, configFile?: string): RunConfig {
  const file = configFile ? readConfigFile(configFile) : {};
  const given = pickFlags(flags, [commonSchema, ...algorithms().map((a) => a.hyperparameters)]);
  const algo = flags.algo ?? file.algo ?? DEFAULT_ALGO;
  if (!isAlgo(algo)) throw new UsageError(`unknown algo '${String(algo)}' (expected ${listWords(ALGOS, 'or')})`);
  const own = algorithm(algo).hyperparameters.shape;
  for (const key of Object.keys(given)) {
    if (key in own || key in commonSchema.shape) continue;
    const owners = algorithmsWithSetting(key);
    if (owners.length) {
      throw new UsageError(
        `--${kebab(key)} is a ${listWords(owners, 'and')} setting; it does not apply to --algo ${algo}`,
      );
    }
  }
  // One budget: a flag replaces the file's budget of either kind; two in one place are refused.
  // Lowest precedence: the env family's preset (MinAtar's), then the file, then the flags.
  const env =
    (given.env as string | undefined) ?? (file.env as string | undefined) ?? commonSchema.shape.env.parse(undefined);
  const preset = typeof env === 'string' ? presetFor(algorithm(algo).presets, env) : {};
  const merged: Record<string, unknown> = { ...preset, ...file, ...given, algo };
  if (given.frames !== undefined || given.steps !== undefined) {
    merged.frames = given.frames;
    merged.steps = given.steps;
  }
  if (merged.frames !== undefined && merged.steps !== undefined) {
    throw new UsageError(
      `--frames and --steps both set the training budget${given.frames === undefined || given.steps === undefined ? ` (in ${configFile})` : ''}; give only one`,
    );
  }
  const config = validate(
    runConfigSchema,
    merged,
    configFile ? `configuration (${configFile} + flags)` : 'configuration',
    runConfigKeys(algo),
  );
  // Saved runs name their torso and architecture concretely: auto is CoordConv on images, an MLP on
  // vectors; the MinAtar network for MinAtar games, the Nature CNN otherwise.
  if (config.torso === 'auto') config.torso = isImageEnv(config.env) ? 'coordconv' : 'mlp';
  if (config.arch === 'auto') config.arch = isMinAtar(config.env) ? 'minatar' : 'nature';
  return config;
}
