// Public API of coordconv-rl for TypeScript/JavaScript users. Importing it registers the custom
// layers (AddCoords, CoordConv2D) for tf.loadLayersModel.

export { A2C, type A2CHyperparams, a2cSchema } from '../agents/a2c.js';
export { DQN, type DQNHyperparams, dqnSchema } from '../agents/dqn.js';
export {
  type MakeVecEnvOptions,
  makeVecEnv,
  type StepResult,
  type VecEnv,
} from '../envs/index.js';
export type { AgentContext, AgentEnv, CheckpointParts, IterationStats, TrainableAgent } from './agent.js';
export { PolicyNetwork } from './agent.js';
export { type AlgorithmSpec, defineAlgorithm } from './algorithms/algorithm.js';
export {
  ALGORITHMS,
  ALGOS,
  type Algo,
  algorithm,
  algorithms,
  createAgent,
  type RegisteredAlgorithm,
} from './algorithms/registry.js';
export {
  activeBackend,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  decideBackend,
  initBackend,
} from './backend.js';
export { loadModelFromDir, saveModelToDir } from './checkpoint/index.js';
export * from './layers/index.js';
export { makeReplayBuffer, type ReplayBuffer } from './replay/index.js';
export { type RunConfig, resolveRunConfig } from './run-config.js';
export * from './stats/aggregate.js';
export { humanNormalized, referenceScores } from './stats/atari-scores.js';
export { tf } from './tf.js';
export { applyTorso, buildTorsoModel, describeTorso, type TorsoKind, type TorsoOptions } from './torsos.js';
export type { EnvSpaces } from './training/env-factory.js';
export { evaluateRun, resumeRun, runInfo, startRun } from './training/run.js';
export { Rng } from './util/rng.js';
