// The vocabulary of the memory estimate (src/training/memory.ts) that each algorithm's entry
// (src/algorithms/) uses to declare the parts only it allocates: its replay buffer or rollout, its
// batches. Kept apart from memory.ts so that the entries do not import the estimate that imports them.

export interface ObsSpace {
  shape: readonly number[];
  dtype: 'uint8' | 'float32';
  /** Frames stacked in the channels where the env says (MinAtar: 1, every observation stored whole). */
  frameStack?: number;
}

export interface MemoryPart {
  name: string;
  bytes: number;
  /** The flags that make this part big, the first the one to lower. */
  flags: string[];
  /** Elements of its largest single array (typed arrays and tensors stop near 2^31-2^32). */
  largestArray: number;
}

/** Elements and bytes of one observation. */
export function observationSize(obs: ObsSpace): { elements: number; bytes: number } {
  const elements = obs.shape.reduce((a, b) => a * b, 1);
  return { elements, bytes: elements * (obs.dtype === 'uint8' ? 1 : 4) };
}

/**
 * Activations of one sample through the torso, in floats: the Nature CNN keeps ~3.1 floats per
 * input pixel over its three convolutions (21,632 for 84x84) plus the 512 features; the MLP two
 * hidden layers of 64.
 */
function activationsPerSample(obs: ObsSpace): number {
  if (obs.shape.length === 3) {
    const [h, w, c] = obs.shape;
    const pixels = Math.min(h, c) === c ? h * w : w * c; // NHWC, or NCHW with the stack first
    return 3.1 * pixels + 512;
  }
  return 2 * 64;
}

/**
 * The tensors of a training batch of `batch` samples, each feeding `inputs` observations through
 * the network: float32 inputs plus the activations kept for the backward pass and their gradients.
 */
export function batchTensorsPart(
  name: string,
  obs: ObsSpace,
  batch: number,
  flags: string[],
  inputs: number,
): MemoryPart {
  const { elements } = observationSize(obs);
  return {
    name,
    bytes: batch * (inputs * elements * 4 + 3 * activationsPerSample(obs) * 4),
    flags,
    largestArray: batch * elements,
  };
}
