// Replay buffers for off-policy agents (DQN): uint8 frame stacks and small float vectors.

export { loadReplayBuffer, type MakeReplayOptions, makeReplayBuffer, type ReplayBuffer } from './factory.js';
export {
  type FrameBatch,
  type FrameLayout,
  type FramePadding,
  FrameReplayBuffer,
  type FrameReplayOptions,
} from './frame-replay.js';
export type { ReplayBaseOptions, ReplayBatch, ReplayStep } from './replay-base.js';
export {
  checkHeader,
  REPLAY_FORMAT,
  REPLAY_FORMAT_VERSION,
  type ReplayHeader,
  type ReplaySnapshot,
} from './snapshot-format.js';
export { readReplayBlobsInto, readReplayHeader, writeReplaySnapshot } from './snapshot-io.js';
export { VectorReplayBuffer, type VectorReplayOptions } from './vector-replay.js';
