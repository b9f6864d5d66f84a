// Run configuration: one zod schema per part (common settings here, hyperparameters in each
// agent's file). The same schema gives the CLI flags, validates config files (YAML or JSON) and
// is saved as config.json with the run, so every hyperparameter is a flag and a file field.
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import YAML from 'yaml';
import { z } from 'zod';
import { BACKEND_CHOICES } from './backend.js';
import { PRECISIONS } from './compiled/precision.js';
import { parseCount, UsageError } from './util/cli-errors.js';
import { closestMatch } from './util/suggest.js';

/** Upper bound of every count (steps, frames, intervals): far beyond any run, exact in a double. */
export const MAX_COUNT = 1e12;
/** Seeds stay below 2^31 so that env seeds derived from them (envSeedAt) stay exact. */
export const MAX_SEED = 2 ** 31 - 1;
/** Parallel envs of one run: the env server's default --max-envs. */
export const MAX_ENVS = 1024;
/** Env names go into directory names (runs/<game>/...): far below the file system's 255 bytes a name. */
export const MAX_ENV_NAME = 100;

export const commonSchema = z
  .object({
    env: z
      .string()
      .min(1)
      .max(MAX_ENV_NAME, `an environment name has at most ${MAX_ENV_NAME} characters`)
      .default('pong')
      .describe(
        'environment: an Atari game (pong, ALE/Breakout-v5, ...), a MinAtar game (minatar/breakout) or a Gymnasium id',
      ),
    torso: z
      .enum(['auto', 'conv', 'coordconv', 'mlp'])
      .default('auto')
      .describe(
        'network torso: conv, coordconv (the same network with CoordConv), mlp (vectors); auto = coordconv for images, mlp otherwise',
      ),
    arch: z
      .enum(['auto', 'nature', 'minatar'])
      .default('auto')
      .describe(
        'image network of conv/coordconv: nature (Nature DQN CNN, 84x84), minatar (16@3x3 conv, fc128: MinAtar 10x10); auto = minatar for MinAtar games, nature otherwise',
      ),
    coordconvAt: z
      .enum(['first', 'all'])
      .default('first')
      .describe('CoordConv at the first convolution or at every one'),
    withR: z.boolean().default(false).describe('add the radius channel to CoordConv'),
    frames: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .optional()
      .describe('training budget in frames (1 agent step = frame skip frames)'),
    steps: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .optional()
      .describe('training budget in agent steps (summed over envs)'),
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(MAX_SEED)
      .default(1)
      .describe('seed of networks, exploration and environments'),
    backend: z.enum(BACKEND_CHOICES).default('auto').describe('TensorFlow.js backend'),
    precision: z
      .enum(PRECISIONS)
      .default('fp32')
      .describe(
        "the compiled training graphs' arithmetic: bf16 = bfloat16 mixed precision (fp32 weights, optimizer and loss) on CPUs with AMX-BF16/AVX512-BF16; the eager and pure-JS paths always run fp32",
      ),
    stickyActions: z
      .number()
      .min(0)
      .max(1)
      .default(0.25)
      .describe(
        'sticky actions: Atari repeat_action_probability (0.25 like ALE/*-v5; 0 for NoFrameskip-v4 style); MinAtar sticky_action_prob (its preset: 0.1)',
      ),
    fullActionSpace: z
      .boolean()
      .default(false)
      .describe('use all 18 Atari (6 MinAtar) actions instead of the minimal set'),
    difficultyRamping: z.boolean().default(true).describe('MinAtar: games speed up as they go on'),
    lifeLoss: z
      .boolean()
      .default(true)
      .describe('treat a lost life as the end of an episode for training (not for scores)'),
    lifeLossFire: z
      .boolean()
      .default(true)
      .describe(
        'with --life-loss: play FIRE on the step after each lost life in games with FIRE, as SB3 does (evaluation too)',
      ),
    maxEpisodeFrames: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .default(108_000)
      .describe('episode time limit in frames (Atari and MinAtar)'),
    checkpointEvery: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .default(100_000)
      .describe('save a checkpoint every N agent steps'),
    keepCheckpoints: z.number().int().positive().max(1000).default(3).describe('how many recent checkpoints to keep'),
    logEvery: z
      .number()
      .int()
      .positive()
      .max(MAX_COUNT)
      .optional()
      .describe('write metrics every N agent steps (default: budget / 50, at most 10,000, so every run has a curve)'),
    envServers: z
      .string()
      .refine((v) => v.split(',').every((e) => ENDPOINT.test(e.trim()) || e.trim() === ''), {
        error: (i) =>
          `'${String(i.input)}' is not a list of tcp://HOST:PORT or ipc://PATH endpoints (e.g. tcp://10.0.0.5:5555)`,
      })
      .optional()
      .describe('comma-separated endpoints of running `coordrl serve` servers (default: start a local one)'),
    envKeys: z
      .string()
      .optional()
      .describe('directory of CURVE client keys for --env-servers (from `coordrl serve --gen-keys`)'),
    exactResume: z
      .boolean()
      .default(false)
      .describe('reset every env at each checkpoint, so a resume continues bit for bit (cuts running episodes there)'),
  })
  .strict();
export type CommonConfig = z.infer<typeof commonSchema>;

/** The endpoints ZeroMQ connects to for `coordrl serve` (its --bind takes the same forms). */
const ENDPOINT = /^(tcp:\/\/[^\s:/]+:[0-9]{1,5}|ipc:\/\/\S+)$/;

/** Frames per agent step: Atari envs skip 4 frames per action, others (MinAtar included) 1. */
export function frameSkipFor(env: string): number {
  return isAtari(env) ? 4 : 1;
}

/** `minatar/breakout`, `MinAtar/Breakout-v1`, `breakout-minatar` (the env server checks the game). */
export function isMinAtar(env: string): boolean {
  return /^minatar\//i.test(env.trim()) || /-minatar$/i.test(env.trim());
}

/**
 * Gymnasium ids look like `CartPole-v1`; MinAtar names are not Atari; anything else (pong,
 * ALE/Pong-v5, PongNoFrameskip-v4) is Atari.
 */
export function isAtari(env: string): boolean {
  if (isMinAtar(env)) return false;
  if (/^ALE\//.test(env) || /NoFrameskip-v\d$/.test(env)) return true;
  return !/-v\d+$/.test(env);
}

/** Envs with image observations (Atari frames, MinAtar grids): conv torsos; the others get an MLP. */
export function isImageEnv(env: string): boolean {
  return isAtari(env) || isMinAtar(env);
}

/** Total agent steps of the budget, from --steps or --frames. */
export function budgetSteps(c: Pick<CommonConfig, 'frames' | 'steps' | 'env'>, fallback: number): number {
  if (c.steps !== undefined) return c.steps;
  if (c.frames !== undefined) return Math.ceil(c.frames / frameSkipFor(c.env));
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// Schema -> CLI flags

type AnyObject = z.ZodObject<z.ZodRawShape>;

interface FieldInfo {
  key: string;
  kind: string;
  description: string;
  defaultValue: unknown;
  choices?: string[];
  isInt: boolean;
}

function fieldInfo(key: string, schema: z.ZodType): FieldInfo {
  let t = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType; defaultValue?: unknown } };
  const description = schema.description ?? '';
  const defaultValue = t.def.type === 'default' ? t.def.defaultValue : undefined;
  while (t.def.type === 'default' || t.def.type === 'optional') t = t.def.innerType as typeof t;
  const inner = t as unknown as { options?: string[]; isInt?: boolean };
  return {
    key,
    kind: t.def.type,
    description,
    defaultValue,
    choices: inner.options,
    isInt: inner.isInt === true,
  };
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Parses numbers like 1e-4, 10M, 500k, 1_000_000 for integer fields. */
function parseNumberFlag(flag: string, isInt: boolean): (v: string) => number {
  return (v: string) => {
    const m = /^(-?[0-9][0-9_]*(?:\.[0-9]*)?(?:e-?[0-9]+)?)([kKmMgG]?)$/.exec(v.trim());
    if (!m) throw new UsageError(`--${flag}: '${v}' is not a number`);
    const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
    const n = Number(m[1].replace(/_/g, '')) * mult;
    if (isInt && !Number.isInteger(n)) throw new UsageError(`--${flag}: '${v}' is not an integer`);
    return n;
  };
}

/**
 * Commander options for every field of the schemas. They carry no commander default, so that a
 * flag the user did not give never overrides a config file; defaults come from the schema.
 */
export function optionsFromSchemas(schemas: { schema: AnyObject; note?: string }[]): Option[] {
  // A key shared by several schemas (lr, gamma, numEnvs) is one flag listing each default.
  const fields = new Map<string, { info: FieldInfo; defaults: string[] }>();
  for (const { schema, note } of schemas) {
    for (const [key, field] of Object.entries(schema.shape)) {
      const info = fieldInfo(key, field as z.ZodType);
      const entry = fields.get(key) ?? { info, defaults: [] };
      if (info.defaultValue !== undefined)
        entry.defaults.push(`${JSON.stringify(info.defaultValue)}${note ? ` ${note}` : ''}`);
      fields.set(key, entry);
    }
  }
  const out: Option[] = [];
  for (const [key, { info: f, defaults }] of fields) {
    const flag = kebab(key);
    const help = `${f.description}${defaults.length ? ` (default ${defaults.join(', ')})` : ''}`;
    if (f.kind === 'boolean') {
      // --flag and --no-flag, both without commander defaults.
      out.push(new Option(`--${flag}`, help), new Option(`--no-${flag}`, `turn off --${flag}`));
    } else if (f.kind === 'number') {
      out.push(new Option(`--${flag} <n>`, help).argParser(parseNumberFlag(flag, f.isInt)));
    } else if (f.kind === 'enum') {
      out.push(new Option(`--${flag} <name>`, help).choices(f.choices ?? []));
    } else {
      out.push(new Option(`--${flag} <value>`, help));
    }
  }
  return out;
}

/** The schema keys the user set on the command line (commander leaves the others undefined). */
export function pickFlags(opts: Record<string, unknown>, schemas: AnyObject[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const schema of schemas) {
    for (const key of Object.keys(schema.shape)) if (opts[key] !== undefined) out[key] = opts[key];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Config files and validation

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new UsageError(
      `config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`config file ${file} must hold a mapping of settings (e.g. "algo: a2c")`);
  }
  // Counts are written in files as on the command line: `frames: 10M`, `bufferSize: 100k`,
  // `steps: 2_000_000` (YAML reads those as strings). Only a count with a suffix or digit
  // separators is converted; other strings stay as they are for the schema to judge.
  const settings = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(settings)) {
    if (typeof v === 'string' && COUNT_IN_FILE.test(v.trim())) settings[key] = parseCount(key)(v);
  }
  return settings;
}

/** `10M`, `500k`, `1.5G`, `2_000_000`: what parseCount reads that YAML leaves a string. */
const COUNT_IN_FILE = /^[0-9][0-9_]*(?:\.[0-9]+)?(?:[kKmMgG]|(?<=_[0-9]+))$/;

/**
 * Validates with a schema and turns every problem into one precise line. `knownKeys`: the fields
 * an unknown one is compared with for a "did you mean".
 */
export function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: string,
  knownKeys: readonly string[] = [],
): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      const named = i.keys.map((k) => {
        const near = closestMatch(k, knownKeys);
        return near ? `'${k}' (did you mean '${near}'?)` : `'${k}'`;
      });
      return `unknown field${i.keys.length > 1 ? 's' : ''} ${named.join(', ')}`;
    }
    const field = i.path.join('.');
    return field ? `'${field}': ${i.message}` : i.message;
  });
  throw new UsageError(`invalid ${where}: ${problems.join('; ')}`);
}
