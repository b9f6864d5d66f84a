// DQN's entry in the algorithm registry: deep Q-learning with a replay buffer and a target
// network, as SB3's DQN (agents/dqn.ts).
import { DQN, type DQNHyperparams, dqnSchema } from '../../agents/dqn.js';
import { defineAlgorithm, type RunConfigFor } from './algorithm.js';
import { batchTensorsPart, observationSize } from './memory-parts.js';

export type DQNRunConfig = RunConfigFor<'dqn', typeof dqnSchema>;

/**
 * DQN as in the MinAtar paper (Young & Tian 2019, its examples/dqn.py): batch 32, replay 100k, target
 * network every 1,000 frames, one update per frame, 5,000 uniformly random frames before learning,
 * epsilon 1.0 -> 0.1 over the next 100k frames, centered RMSprop (lr 2.5e-4, squared-gradient decay
 * 0.95, epsilon 0.01 added to the root as PyTorch does, and no momentum: dqn.py never passes its
 * GRAD_MOMENTUM = 0.95 to torch's RMSprop, whose default is 0, and the author confirmed that is the
 * intended DeepMind form in kenjyoung/MinAtar#37), PyTorch's default initialisation (dqn.py keeps
 * nn.Conv2d's and nn.Linear's), gamma 0.99, Huber loss, raw rewards (the paper does not clip:
 * Seaquest pays up to 10 at once) and no gradient clipping.
 */
export const MINATAR_DQN: Readonly<Partial<DQNHyperparams>> = {
  numEnvs: 1,
  batchSize: 32,
  bufferSize: 100_000,
  targetUpdateInterval: 1_000,
  trainFreq: 1,
  learningStarts: 5_000,
  epsStart: 1.0,
  epsEnd: 0.1,
  explorationSteps: 100_000,
  optimizer: 'centered-rmsprop',
  lr: 2.5e-4,
  rmsDecay: 0.95,
  rmsMomentum: 0,
  optimEps: 0.01,
  gamma: 0.99,
  clipRewards: false,
  maxGradNorm: 0,
  init: 'torch',
};

/** The replay an evaluated agent gets: it plays greedily and never samples it. */
const EVAL_BUFFER_SIZE = 1000;

export const dqn = defineAlgorithm({
  name: 'dqn',
  title: 'DQN',
  description: "deep Q-network with replay and a target network, as SB3's DQN",
  hyperparameters: dqnSchema,
  create: (ctx, config) => new DQN(ctx, config),
  presets: { minatar: MINATAR_DQN },
  memory: {
    parts(config, obs) {
      const { elements, bytes } = observationSize(obs);
      const n = config.numEnvs;
      const image = obs.dtype === 'uint8' && obs.shape.length === 3;
      // Frame replay stores each frame once; vector replay one observation per slot.
      const stack = image ? (obs.frameStack ?? Math.min(obs.shape[0], obs.shape[2])) : 1;
      const slotBytes = (image ? bytes / stack : bytes) + 12;
      const slots = Math.ceil(config.bufferSize / n) * n;
      return [
        {
          name: 'replay buffer',
          bytes: slots * slotBytes,
          flags: ['--buffer-size'],
          // frames live in chunks of a few MB; the per-slot arrays are the longest then
          largestArray: image ? slots : slots * elements,
        },
        // Sampled obs and next obs (arrays), then online and target passes over both.
        {
          name: 'sampled batch',
          bytes: config.batchSize * (2 * bytes + 24),
          flags: ['--batch-size'],
          largestArray: config.batchSize * elements,
        },
        batchTensorsPart('batch tensors', obs, config.batchSize, ['--batch-size'], 2),
      ];
    },
    parameterCopies: 2 * 4, // weights, gradients, 2 optimizer slots, x2 for the target network
  },
  envGroups: () => 1,
  stepsBeforeLearning: (config) => config.learningStarts,
  evaluation: {
    greedy: 'the best Q',
    samples: false,
    config: (config) => ({ ...config, bufferSize: EVAL_BUFFER_SIZE }),
  },
});
