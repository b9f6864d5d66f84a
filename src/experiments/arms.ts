// The arms of an A/B experiment and the run configurations they make. An arm is a name plus any
// run-config fields (torso, withR, coordconvAt, lr, ...) laid over the experiment's base settings;
// every (game, arm, seed) is validated with the ordinary run-config schema before anything runs.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { hyperparameterKeys } from '../algorithms/registry.js';
import { commonSchema, isImageEnv } from '../config.js';
import { type RunConfig, resolveRunConfig } from '../run-config.js';
import { UsageError } from '../util/cli-errors.js';

export interface Arm {
  name: string;
  /** Run-config fields this arm sets (over the base settings). */
  fields: Record<string, unknown>;
}

/** Arms that `--arms` understands without an arms file: the torso names. */
export const SHORTHAND_ARMS = ['conv', 'coordconv', 'mlp'] as const;

/** Settings the experiment itself sets for every run: arms may not change them. */
const EXPERIMENT_FIELDS: Record<string, string> = {
  seed: 'seeds are set by the experiment (--seeds) and paired across arms',
  env: 'games are set by the experiment (--envs)',
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function knownFields(): Set<string> {
  return new Set(['algo', ...Object.keys(commonSchema.shape), ...hyperparameterKeys()]);
}

function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(
      `${where}: arm name '${name}' must be 1-64 letters, digits, '.', '_' or '-' (it becomes a directory name)`,
    );
  }
}

/** Checks one arm's fields: known run-config fields only, none that the experiment sets. */
export function checkArm(arm: Arm, where: string): void {
  checkName(arm.name, where);
  const known = knownFields();
  for (const key of Object.keys(arm.fields)) {
    if (key in EXPERIMENT_FIELDS)
      throw new UsageError(`${where}: arm '${arm.name}' sets '${key}': ${EXPERIMENT_FIELDS[key]}`);
    if (!known.has(key)) throw new UsageError(`${where}: arm '${arm.name}' has an unknown field '${key}'`);
  }
}

/** Reads an arms file: a list of arms, or a mapping with an `arms` list. Each arm: `{name, ...fields}`. */
export function readArmsFile(file: string): Arm[] {
  const raw = readYamlOrJson(file, '--arms-file');
  let list: unknown = raw;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const map = raw as Record<string, unknown>;
    const extra = Object.keys(map).filter((k) => k !== 'arms');
    if (extra.length) {
      throw new UsageError(
        `--arms-file ${file}: unknown top-level field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (expected 'arms')`,
      );
    }
    list = map.arms;
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new UsageError(
      `--arms-file ${file}: expected a non-empty list of arms, e.g. "arms: [{name: conv, torso: conv}]"`,
    );
  }
  const arms = list.map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new UsageError(`--arms-file ${file}: arm ${i + 1} is not a mapping of settings`);
    }
    const { name, ...fields } = item as Record<string, unknown>;
    if (typeof name !== 'string') throw new UsageError(`--arms-file ${file}: arm ${i + 1} needs a 'name'`);
    const arm = { name, fields };
    checkArm(arm, `--arms-file ${file}`);
    return arm;
  });
  checkUnique(arms, `--arms-file ${file}`);
  return arms;
}

/** A YAML or JSON file (by extension), with one-line errors. */
export function readYamlOrJson(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
  const json = /\.json$/i.test(file);
  try {
    return json ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new UsageError(
      `${flag}: ${file} is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

function checkUnique(arms: Arm[], where: string): void {
  const seen = new Set<string>();
  for (const a of arms) {
    if (seen.has(a.name)) throw new UsageError(`${where}: two arms are named '${a.name}'`);
    seen.add(a.name);
  }
}

/**
 * The experiment's arms from `--arms` (comma list) and `--arms-file`. Without a file, each name
 * is a torso (`conv` = `{name: conv, torso: conv}`); with a file, `--arms` picks and orders the
 * file's arms. The first arm is the baseline (A) every other arm is compared with.
 */
export function parseArms(list: string | undefined, file: string | undefined): Arm[] {
  const names = list
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list !== undefined && !names?.length)
    throw new UsageError('--arms: give at least two arm names, e.g. conv,coordconv');
  let arms: Arm[];
  if (file) {
    const defined = readArmsFile(file);
    arms = names
      ? names.map((n) => {
          const a = defined.find((d) => d.name === n);
          if (!a) {
            throw new UsageError(
              `--arms: '${n}' is not defined in ${file} (it defines ${defined.map((d) => d.name).join(', ')})`,
            );
          }
          return a;
        })
      : defined;
  } else {
    arms = (names ?? ['conv', 'coordconv']).map((n) => {
      if (!(SHORTHAND_ARMS as readonly string[]).includes(n)) {
        throw new UsageError(
          `--arms: unknown arm '${n}'; without --arms-file the arms are torsos (${SHORTHAND_ARMS.join(', ')}); define other arms in an arms file`,
        );
      }
      return { name: n, fields: { torso: n } };
    });
  }
  checkUnique(arms, '--arms');
  if (arms.length < 2) throw new UsageError(`an A/B experiment needs at least two arms, got ${arms.length}`);
  return arms;
}

/** Directory-safe name of a game: `pong`, `ALE/Pong-v5` -> `ALE-Pong-v5`, `CartPole-v1`. */
export function gameSlug(env: string): string {
  return env.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'env';
}

export function parseEnvs(list: string): string[] {
  const envs = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!envs.length) throw new UsageError('--envs: give at least one game, e.g. pong,breakout');
  const slugs = new Map<string, string>();
  for (const e of envs) {
    const s = gameSlug(e);
    const other = slugs.get(s);
    if (other !== undefined)
      throw new UsageError(`--envs: '${other}' and '${e}' are the same game (or name the same directory)`);
    slugs.set(s, e);
  }
  return envs;
}

/** `5` -> seeds 1..5; `1,2,7` -> those seeds. */
export function parseSeeds(value: string): number[] {
  const v = value.trim();
  if (/^[0-9_]+$/.test(v)) {
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isInteger(n) || n <= 0)
      throw new UsageError(`--seeds must be a count >= 1 or a list of seeds, got '${value}'`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const seeds = v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!s.trim() || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`--seeds: '${s.trim()}' is not a seed (integers >= 0, e.g. --seeds 5 or --seeds 1,2,3)`);
    }
    return n;
  });
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds: a seed is listed twice in '${value}'`);
  return seeds;
}

/**
 * The validated run configuration of one arm on one game with one seed: base settings (config
 * file < base flags) < the arm's fields < the experiment's env and seed. Errors name the arm.
 */
export function armRunConfig(opts: {
  base: Record<string, unknown>;
  configFile?: string;
  arm: Arm;
  env: string;
  seed: number;
}): RunConfig {
  const { base, configFile, arm, env, seed } = opts;
  let config: RunConfig;
  try {
    config = resolveRunConfig({ ...base, ...arm.fields, env, seed }, configFile);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`arm '${arm.name}' on ${env}: ${e.message}`);
    throw e;
  }
  const image = isImageEnv(env);
  if (image && config.torso === 'mlp') {
    throw new UsageError(
      `arm '${arm.name}': torso mlp is for vector observations; ${env} gives images (use conv or coordconv)`,
    );
  }
  if (!image && (config.torso === 'conv' || config.torso === 'coordconv')) {
    throw new UsageError(
      `arm '${arm.name}': torso ${config.torso} needs image observations, but ${env} is not an Atari or MinAtar game; compare mlp arms that differ in another field (--arms-file)`,
    );
  }
  return config;
}

/** The fields whose values differ between arms (env and seed excluded), arm by arm. */
export function configDiff(
  configs: { arm: string; config: RunConfig }[],
): { field: string; values: Record<string, unknown> }[] {
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c.config)) keys.add(k);
  keys.delete('env');
  keys.delete('seed');
  const out: { field: string; values: Record<string, unknown> }[] = [];
  for (const field of [...keys].sort()) {
    const values: Record<string, unknown> = {};
    for (const c of configs) values[c.arm] = (c.config as Record<string, unknown>)[field];
    const distinct = new Set(Object.values(values).map((v) => JSON.stringify(v ?? null)));
    if (distinct.size > 1) out.push({ field, values });
  }
  return out;
}
