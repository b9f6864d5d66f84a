// The full configuration of a training run: common settings + the chosen agent's
// hyperparameters, merged from defaults < config file < command-line flags and validated.
import { z } from 'zod';
import { a2cSchema } from '../agents/a2c.js';
import { dqnSchema } from '../agents/dqn.js';
import { commonSchema, isAtari, pickFlags, readConfigFile, validate } from './config.js';
import { UsageError } from './util/cli-errors.js';

export const ALGOS = ['a2c', 'dqn'] as const;
export type Algo = (typeof ALGOS)[number];

export const hyperparamSchemas = { a2c: a2cSchema, dqn: dqnSchema } as const;

export const runConfigSchema = z.discriminatedUnion('algo', [
  z.object({ algo: z.literal('a2c'), ...commonSchema.shape, ...a2cSchema.shape }).strict(),
  z.object({ algo: z.literal('dqn'), ...commonSchema.shape, ...dqnSchema.shape }).strict(),
]);
export type RunConfig = z.infer<typeof runConfigSchema>;
export type A2CRunConfig = Extract<RunConfig, { algo: 'a2c' }>;
export type DQNRunConfig = Extract<RunConfig, { algo: 'dqn' }>;

/** The fields of run configurations (for "did you mean" on an unknown one): `algo`'s first. */
export function runConfigKeys(algo: Algo): string[] {
  const others = ALGOS.filter((a) => a !== algo).flatMap((a) => Object.keys(hyperparamSchemas[a].shape));
  return [
    ...new Set(['algo', ...Object.keys(commonSchema.shape), ...Object.keys(hyperparamSchemas[algo].shape), ...others]),
  ];
}

/**
 * Merges a config file (optional) and the flags the user gave, then validates. A flag that
 * belongs to the other algorithm is an error that says so, rather than being ignored.
 */
export function resolveRunConfig(flags: Record<string, unknown>, configFile?: string): RunConfig {
  const file = configFile ? readConfigFile(configFile) : {};
  const given = pickFlags(flags, [commonSchema, a2cSchema, dqnSchema]);
  const algo = (flags.algo as string | undefined) ?? (file.algo as string | undefined) ?? 'a2c';
  if (!ALGOS.includes(algo as Algo)) throw new UsageError(`unknown algo '${algo}' (expected ${ALGOS.join(' or ')})`);
  const own = hyperparamSchemas[algo as Algo].shape;
  const other = algo === 'a2c' ? dqnSchema.shape : a2cSchema.shape;
  for (const key of Object.keys(given)) {
    if (key in other && !(key in own) && !(key in commonSchema.shape)) {
      throw new UsageError(
        `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is a ${algo === 'a2c' ? 'dqn' : 'a2c'} setting; it does not apply to --algo ${algo}`,
      );
    }
  }
  // One budget: a flag replaces the file's budget of either kind; two in one place are refused.
  const merged: Record<string, unknown> = { ...file, ...given, algo };
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
    runConfigKeys(algo as Algo),
  );
  // Saved runs name their torso concretely: auto is CoordConv on images, an MLP on vectors.
  if (config.torso === 'auto') config.torso = isAtari(config.env) ? 'coordconv' : 'mlp';
  return config;
}
