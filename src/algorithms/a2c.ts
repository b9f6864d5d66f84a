// A2C's entry in the algorithm registry: synchronous advantage actor-critic as SB3's A2C
// (agents/a2c.ts), on-policy rollouts of nSteps x numEnvs.
import { A2C, type A2CHyperparams, a2cSchema } from '../../agents/a2c.js';
import { defineAlgorithm, type RunConfigFor } from './algorithm.js';
import { batchTensorsPart, observationSize } from './memory-parts.js';

export type A2CRunConfig = RunConfigFor<'a2c', typeof a2cSchema>;

/**
 * A2C on MinAtar (docs/minatar.md, "A2C"): SB3's Atari A2C (16 envs x 5 steps, RMSprop as TF 1.x,
 * entropy 0.01, value coefficient 0.25, clip 0.5... see agents/a2c.ts) with raw rewards, and
 * RMSprop's epsilon at 1e-8 instead of 1e-5 with lr 3e-3. That epsilon sits inside the square root
 * (lr g / sqrt(ms + eps), ms starting at 1), so 1e-5 floors the denominator at 3.2e-3: Atari's
 * clipped rewards give larger gradients, but MinAtar's rare raw rewards give per-weight gradients of
 * about 1e-5-5e-4 (logged global norms 0.002-0.2 over 132k weights), which it turns into steps 6-300x
 * smaller than RMSprop's usual ~lr. With 1e-5, asterix and freeway stayed at the uniform policy
 * for 1M frames; with 1e-8 (floor 1e-4) both learn within 1M, and lr 3e-3 (as the MinAtar A2C of
 * sotetsuk/a2c-minatar uses with Adam) learns them sooner (freeway 35 instead of 4 at 750k frames).
 * The same for all five games (a verdict needs one configuration). Flags still override.
 */
export const MINATAR_A2C: Readonly<Partial<A2CHyperparams>> = {
  numEnvs: 16,
  nSteps: 5,
  lr: 3e-3,
  rmsEpsilon: 1e-8,
  clipRewards: false,
};

export const a2c = defineAlgorithm({
  name: 'a2c',
  title: 'A2C',
  description: "synchronous advantage actor-critic, as SB3's A2C",
  hyperparameters: a2cSchema,
  create: (ctx, config) => new A2C(ctx, config),
  presets: { minatar: MINATAR_A2C },
  memory: {
    parts(config, obs) {
      const batch = config.nSteps * config.numEnvs;
      return [
        {
          name: 'rollout buffers',
          bytes: batch * (observationSize(obs).bytes + 20),
          flags: ['--n-steps', '--num-envs'],
          largestArray: batch * observationSize(obs).elements,
        },
        batchTensorsPart('batch tensors', obs, batch, ['--n-steps', '--num-envs'], 1),
      ];
    },
    parameterCopies: 4, // weights, gradients, 2 optimizer slots
  },
  // --pipeline steps two halves of the envs in turn (see src/rollout.ts). Not by default: on the
  // 2-core machines measured, the second group's messages and the smaller inference batches cost
  // the learner more CPU than the overlap hides (docs/speed.md).
  envGroups: (config) => (config.pipeline === true && config.numEnvs >= 2 ? 2 : 1),
  stepsBeforeLearning: () => 0,
  evaluation: { greedy: 'the most likely action', samples: true, config: (config) => config },
});
