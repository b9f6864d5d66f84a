// One entry point for agents: the right buffer for an observation space, behind one interface.
import path from 'node:path';
import type { Rng } from '../util/rng.js';
import { type FrameLayout, type FramePadding, FrameReplayBuffer } from './frame-replay.js';
import type { ReplayBatch, ReplayStep } from './replay-base.js';
import type { ReplaySnapshot } from './snapshot-format.js';
import { readReplayHeader } from './snapshot-io.js';
import { VectorReplayBuffer } from './vector-replay.js';

/** What agents need from a replay buffer (both FrameReplayBuffer and VectorReplayBuffer). */
export interface ReplayBuffer {
  readonly numEnvs: number;
  readonly capacity: number;
  readonly size: number;
  readonly nStep: number;
  readonly gamma: number;
  readonly obsSize: number;
  add(step: ReplayStep): void;
  /** Pass `out` (from allocBatch) to reuse the batch arrays instead of allocating per call. */
  sample(
    batchSize: number,
    rng: Rng,
    out?: ReplayBatch<Uint8Array | Float32Array>,
  ): ReplayBatch<Uint8Array | Float32Array>;
  allocBatch(batchSize: number): ReplayBatch<Uint8Array | Float32Array>;
  bytes(): number;
  markDiscontinuity(envs?: Iterable<number>): void;
  serialize(): ReplaySnapshot;
  save(dir: string, name?: string): Promise<void>;
}

export interface MakeReplayOptions {
  /**
   * Per-env observation space: uint8 [H, W, stack] (NHWC) or [stack, H, W] (NCHW) gives a frame replay.
   * frameStack 1 (MinAtar: the channels are objects, not frames) stores each observation whole.
   */
  observationSpace: { shape: readonly number[]; dtype: 'uint8' | 'float32'; size?: number; frameStack?: number };
  numEnvs: number;
  capacity: number;
  nStep?: number;
  gamma?: number;
  /** For uint8 image stacks: which axis holds the stack (inferred: the smaller of first and last). */
  layout?: FrameLayout;
  padding?: FramePadding;
  checkContinuity?: boolean;
}

export function makeReplayBuffer(opts: MakeReplayOptions): ReplayBuffer {
  const { shape, dtype } = opts.observationSpace;
  const size = shape.reduce((a, b) => a * b, 1);
  const common = {
    numEnvs: opts.numEnvs,
    capacity: opts.capacity,
    nStep: opts.nStep,
    gamma: opts.gamma,
    checkContinuity: opts.checkContinuity,
  };
  if (dtype === 'float32') return new VectorReplayBuffer({ ...common, obsDim: size });
  if (dtype !== 'uint8') throw new Error(`replay: unsupported observation dtype ${String(dtype)}`);
  if (shape.length === 3 && opts.observationSpace.frameStack !== 1) {
    const layout = opts.layout ?? (shape[0] < shape[2] ? 'NCHW' : 'NHWC');
    const [h, w, stack] = layout === 'NHWC' ? shape : [shape[1], shape[2], shape[0]];
    return new FrameReplayBuffer({ ...common, frameShape: [h, w], stack, layout, padding: opts.padding });
  }
  // Other uint8 observations: one "frame" per observation.
  return new FrameReplayBuffer({ ...common, frameShape: [1, size], stack: 1 });
}

/** Loads a buffer written by save(), of either kind. */
export async function loadReplayBuffer(dir: string, name = 'replay'): Promise<ReplayBuffer> {
  const header = await readReplayHeader(path.resolve(dir), name);
  return header.kind === 'frame' ? FrameReplayBuffer.load(dir, name) : VectorReplayBuffer.load(dir, name);
}
