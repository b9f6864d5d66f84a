// Defaults per env family, applied under the config file and the flags (both still override them):
// the settings a user would expect for that family when saying nothing. Only MinAtar has one so far;
// Atari's defaults are the schemas' own.
import { isMinAtar } from './config.js';

/** A preset: a partial run configuration, validated with the rest of the configuration. */
export type Preset = Readonly<Record<string, unknown>>;

/** MinAtar's own environment defaults (sticky actions 0.1, not ALE/*-v5's 0.25); --arch auto picks its network. */
const MINATAR_COMMON: Preset = { stickyActions: 0.1 };

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
export const MINATAR_DQN: Preset = {
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
export const MINATAR_A2C: Preset = {
  numEnvs: 16,
  nSteps: 5,
  lr: 3e-3,
  rmsEpsilon: 1e-8,
  clipRewards: false,
};

export function presetFor(algo: string, env: string): Preset {
  if (!isMinAtar(env)) return {};
  return { ...MINATAR_COMMON, ...(algo === 'dqn' ? MINATAR_DQN : algo === 'a2c' ? MINATAR_A2C : {}) };
}
