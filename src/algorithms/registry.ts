// The algorithms coordrl trains, listed once. The names (--algo), the run-configuration schema,
// the per-algorithm flags and their --help groups, presets, memory estimates, env set-up and
// evaluation all come from the entries here.
//
// Adding an algorithm:
//   1. agents/<name>.ts: its hyperparameter schema (zod, strict) and its TrainableAgent.
//   2. src/algorithms/<name>.ts: its entry (defineAlgorithm: name, title, description, schema,
//      factory, presets per env family, memory parts and parameter copies, env groups, steps
//      before learning, evaluation), then one element in ALGORITHMS below.
//   3. Its tests; test/registry.test.ts checks the entry is complete and fails wherever code
//      outside src/algorithms/ compares or switches on algorithm names.
import { z } from 'zod';
import type { AgentContext, TrainableAgent } from '../agent.js';
import { a2c } from './a2c.js';
import type { AlgorithmSpec, HyperparamSchema } from './algorithm.js';
import { dqn } from './dqn.js';

/** Every algorithm, in the order help and errors list them; the first is the default. */
export const ALGORITHMS = [a2c, dqn] as const;

type Entries = typeof ALGORITHMS;
export type Algo = Entries[number]['name'];

/** The names of a tuple of entries, as a tuple. */
type NamesOf<T extends readonly unknown[]> = { readonly [K in keyof T]: T[K] extends { name: infer N } ? N : never };
/** The run-configuration schemas of a tuple of entries, as a tuple. */
type RunSchemasOf<T extends readonly unknown[]> = {
  readonly [K in keyof T]: T[K] extends { runSchema: infer R } ? R : never;
};

/** The algorithm of `coordrl train` and `coordrl ab` when none is given. */
export const DEFAULT_ALGO: Algo = ALGORITHMS[0].name;

/** The names, as a tuple (commander's choices, messages). */
export const ALGOS = ALGORITHMS.map((a) => a.name) as unknown as NamesOf<Entries>;

export function isAlgo(name: unknown): name is Algo {
  return typeof name === 'string' && (ALGOS as readonly string[]).includes(name);
}

/** Run configurations: one strict object per algorithm, told apart by `algo`. */
export const runConfigSchema = z.discriminatedUnion(
  'algo',
  ALGORITHMS.map((a) => a.runSchema) as unknown as RunSchemasOf<Entries>,
);
export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigOf<A extends Algo> = Extract<RunConfig, { algo: A }>;

/**
 * An entry as the rest of the code uses it, for a run configuration of any algorithm. (Its
 * functions were written for their own algorithm's configuration: the registry hands them only
 * configurations whose `algo` is theirs, and checks it.)
 */
export type RegisteredAlgorithm = AlgorithmSpec<Algo, HyperparamSchema, RunConfig>;

function register(entry: RegisteredAlgorithm): RegisteredAlgorithm {
  const own = (config: RunConfig): RunConfig => {
    if (config.algo !== entry.name) {
      throw new Error(`the ${entry.name} entry was given a ${config.algo} configuration`);
    }
    return config;
  };
  return {
    ...entry,
    create: (ctx, config) => entry.create(ctx, own(config)),
    memory: {
      parts: (config, obs) => entry.memory.parts(own(config), obs),
      parameterCopies: entry.memory.parameterCopies,
    },
    envGroups: (config) => entry.envGroups(own(config)),
    stepsBeforeLearning: (config) => entry.stepsBeforeLearning(own(config)),
    evaluation: { ...entry.evaluation, config: (config) => entry.evaluation.config(own(config)) },
  };
}

const REGISTERED: readonly RegisteredAlgorithm[] = ALGORITHMS.map((a) => register(a));

/** Every algorithm's entry, in ALGORITHMS' order. */
export function algorithms(): readonly RegisteredAlgorithm[] {
  return REGISTERED;
}

/** The entry of a (validated) algorithm name. */
export function algorithm(name: Algo): RegisteredAlgorithm {
  const entry = REGISTERED.find((a) => a.name === name);
  if (!entry) throw new Error(`no algorithm '${name}' is registered`);
  return entry;
}

/** The agent of a run: its algorithm's factory. */
export function createAgent(ctx: AgentContext, config: RunConfig): TrainableAgent {
  return algorithm(config.algo).create(ctx, config);
}

/** The algorithms whose hyperparameters include `key` (a field of the config, camelCase). */
export function algorithmsWithSetting(key: string): Algo[] {
  return REGISTERED.filter((a) => key in a.hyperparameters.shape).map((a) => a.name);
}

/** Every algorithm's hyperparameter names, each once (arms and --resume checks take any of them). */
export function hyperparameterKeys(): string[] {
  return [...new Set(REGISTERED.flatMap((a) => Object.keys(a.hyperparameters.shape)))];
}

/** The algorithms whose policy `eval --policy sample` can draw actions from. */
export function samplingAlgorithms(): Algo[] {
  return REGISTERED.filter((a) => a.evaluation.samples).map((a) => a.name);
}
