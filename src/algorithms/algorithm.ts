// What an algorithm declares to be trainable, configurable and evaluable here: one entry per
// algorithm (src/algorithms/<name>.ts), listed once in src/algorithms/registry.ts. Everything that
// differs between algorithms outside agents/ is a field of the entry, so the rest of the code asks
// the entry instead of comparing names.
import { z } from 'zod';
import type { AgentContext, TrainableAgent } from '../agent.js';
import { commonSchema } from '../config.js';
import type { EnvFamily } from '../presets.js';
import type { MemoryPart, ObsSpace } from './memory-parts.js';

/** An algorithm's hyperparameters: a strict zod object whose fields become flags and config fields. */
export type HyperparamSchema = z.ZodObject<z.ZodRawShape>;

/** The fields of one algorithm's run configuration: `algo`, the common settings, its hyperparameters. */
type RunShape<N extends string, S extends HyperparamSchema> = { algo: z.ZodLiteral<N> } & typeof commonSchema.shape &
  S['shape'];
export type RunSchemaFor<N extends string, S extends HyperparamSchema> = z.ZodObject<RunShape<N, S>, z.core.$strict>;
export type RunConfigFor<N extends string, S extends HyperparamSchema> = z.infer<RunSchemaFor<N, S>>;

/** The run configuration of one algorithm: `algo` + the common settings + its hyperparameters. */
export function runSchemaFor<N extends string, S extends HyperparamSchema>(name: N, schema: S): RunSchemaFor<N, S> {
  return z.object({ algo: z.literal(name), ...commonSchema.shape, ...schema.shape }).strict();
}

/** One algorithm, as its entry module writes it (`C` is its run configuration). */
export interface AlgorithmSpec<N extends string, S extends HyperparamSchema, C = RunConfigFor<N, S>> {
  /** The `--algo` value and the `algo` field of config files. */
  name: N;
  /** How the docs and help write it (e.g. A2C). */
  title: string;
  /** One line for `--help`. */
  description: string;
  hyperparameters: S;
  /** Builds the agent that trains on `ctx.env`. */
  create(ctx: AgentContext, config: C): TrainableAgent;
  /**
   * Defaults per env family, under the config file and the flags (src/presets.ts adds the
   * family's own settings, e.g. MinAtar's sticky actions). A family left out: the schema's defaults.
   */
  presets: Partial<Record<EnvFamily, Partial<z.infer<S>>>>;
  memory: {
    /** The parts only this algorithm allocates (replay buffer, rollout, batches), for the estimate. */
    parts(config: C, obs: ObsSpace): MemoryPart[];
    /** Copies of the network parameters it holds: weights, gradients, optimizer slots (and targets). */
    parameterCopies: number;
  };
  /** Env groups its training env is made of (src/rollout.ts steps several in turn). */
  envGroups(config: C): number;
  /** Agent steps of random play before the first update (benchmarks warm up past them). */
  stepsBeforeLearning(config: C): number;
  evaluation: {
    /** What its greedy action is, for `eval --help` (e.g. "the best Q"). */
    greedy: string;
    /** Whether `eval --policy sample` can draw actions from its policy (the agent has sampleActions). */
    samples: boolean;
    /** The configuration the evaluated agent is built with: evaluation needs the network only. */
    config(config: C): C;
  };
}

/** An entry with its run-configuration schema derived. */
export interface Algorithm<N extends string, S extends HyperparamSchema> extends AlgorithmSpec<N, S> {
  runSchema: RunSchemaFor<N, S>;
}

export function defineAlgorithm<N extends string, S extends HyperparamSchema>(
  spec: AlgorithmSpec<N, S>,
): Algorithm<N, S> {
  return { ...spec, runSchema: runSchemaFor(spec.name, spec.hyperparameters) };
}
