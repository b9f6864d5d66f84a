// The memory a run will need, estimated from its configuration and the env's observation space
// before anything big is allocated: a flag such as --batch-size 1000000000 is refused with one
// line naming it, instead of growing to tens of GB or dying in `new Float32Array`.
import { freemem, totalmem } from 'node:os';
import type { RunConfig } from '../run-config.js';
import { UsageError } from '../util/cli-errors.js';

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

export interface MemoryEstimate {
  totalBytes: number;
  parts: MemoryPart[];
}

/** TensorFlow, Node and the libraries before any run data (measured ~0.3 GB RSS on CPU). */
const RUNTIME_BYTES = 300e6;
/** One array or tensor holds at most this many elements here (TF's int32 sizes). */
export const MAX_ARRAY_ELEMENTS = 2 ** 31 - 1;

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
 * Bytes of the biggest allocations: replay buffer (DQN), rollout (A2C), sample and batch tensors
 * with their activations and gradients (forward + backward, ~3x), network parameters with
 * gradients and optimizer slots, the env's observation buffers, and the runtime.
 */
export function estimateRunMemory(config: RunConfig, obs: ObsSpace, params: number): MemoryEstimate {
  const obsSize = obs.shape.reduce((a, b) => a * b, 1);
  const obsBytes = obsSize * (obs.dtype === 'uint8' ? 1 : 4);
  const act = activationsPerSample(obs);
  const n = config.numEnvs;
  const parts: MemoryPart[] = [];
  const batchPart = (name: string, batch: number, flags: string[], inputs: number) => {
    parts.push({
      name,
      // float32 inputs + activations kept for the backward pass and their gradients
      bytes: batch * (inputs * obsSize * 4 + 3 * act * 4),
      flags,
      largestArray: batch * obsSize,
    });
  };
  if (config.algo === 'dqn') {
    const image = obs.dtype === 'uint8' && obs.shape.length === 3;
    // Frame replay stores each frame once; vector replay one observation per slot.
    const stack = image ? (obs.frameStack ?? Math.min(obs.shape[0], obs.shape[2])) : 1;
    const slotBytes = (image ? obsBytes / stack : obsBytes) + 12;
    const slots = Math.ceil(config.bufferSize / n) * n;
    parts.push({
      name: 'replay buffer',
      bytes: slots * slotBytes,
      flags: ['--buffer-size'],
      // frames live in chunks of a few MB; the per-slot arrays are the longest then
      largestArray: image ? slots : slots * obsSize,
    });
    // Sampled obs and next obs (arrays), then online and target passes over both.
    parts.push({
      name: 'sampled batch',
      bytes: config.batchSize * (2 * obsBytes + 24),
      flags: ['--batch-size'],
      largestArray: config.batchSize * obsSize,
    });
    batchPart('batch tensors', config.batchSize, ['--batch-size'], 2);
  } else {
    const batch = config.nSteps * n;
    parts.push({
      name: 'rollout buffers',
      bytes: batch * (obsBytes + 20),
      flags: ['--n-steps', '--num-envs'],
      largestArray: batch * obsSize,
    });
    batchPart('batch tensors', batch, ['--n-steps', '--num-envs'], 1);
  }
  parts.push({
    name: 'env observations',
    // current, next and final observations, and the bridge's receive buffers
    bytes: 4 * n * obsBytes,
    flags: ['--num-envs'],
    largestArray: n * obsSize,
  });
  const copies = config.algo === 'dqn' ? 2 * 4 : 4; // weights, gradients, 2 optimizer slots (x2: DQN's target)
  parts.push({ name: 'networks', bytes: params * 4 * copies, flags: ['--torso', '--env'], largestArray: 0 });
  parts.push({ name: 'runtime', bytes: RUNTIME_BYTES, flags: [], largestArray: 0 });
  return { totalBytes: parts.reduce((a, p) => a + p.bytes, 0), parts };
}

export function formatBytes(b: number): string {
  if (b >= 1e12) return `${(b / 1e12).toFixed(1)} TB`;
  if (b >= 1e9) return `${(b / 1e9).toFixed(1)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(0)} MB`;
  return `${(b / 1e3).toFixed(0)} kB`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/**
 * COORDRL_MEMORY_LIMIT ("32G", "500M", "2.5T", bytes without a unit): the budget a run may use in
 * place of the memory the OS reports available, for users who know better (swap, memory freed
 * later, a machine shared on purpose). Null when unset.
 */
export function memoryLimitOverride(value = process.env.COORDRL_MEMORY_LIMIT): number | null {
  if (value === undefined || value.trim() === '') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$/i.exec(value);
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()] : Number.NaN;
  if (!Number.isFinite(bytes) || bytes < 1e6 || bytes > 1e15) {
    throw new UsageError(`COORDRL_MEMORY_LIMIT must be a size from 1M to 1000T such as 32G or 500M, got '${value}'`);
  }
  return bytes;
}

/** The memory this process can use: what the OS reports available, within a cgroup limit. */
export function availableMemory(): { available: number; total: number } {
  const override = memoryLimitOverride();
  if (override !== null) return { available: override, total: override };
  const total = totalmem();
  // constrainedMemory: the cgroup limit (0 or a huge number when there is none).
  const limit = (process as { constrainedMemory?: () => number }).constrainedMemory?.() ?? 0;
  const cap = limit > 0 && limit < total ? limit : total;
  return { available: Math.min(freemem(), cap), total: cap };
}

function flagValue(config: RunConfig, flag: string): string {
  const key = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const v = (config as Record<string, unknown>)[key];
  return v === undefined ? '' : ` ${String(v)}`;
}

/** One line per part, biggest first (for --dry-run). */
export function describeEstimate(e: MemoryEstimate): string[] {
  return [...e.parts]
    .sort((a, b) => b.bytes - a.bytes)
    .map((p) => `${p.name}: ${formatBytes(p.bytes)}${p.flags.length ? ` (${p.flags.join(', ')})` : ''}`);
}

/** Refuses a run that needs more memory than the machine has, or arrays larger than any can be. */
export function checkRunMemory(
  config: RunConfig,
  e: MemoryEstimate,
  mem: { available: number; total: number } = availableMemory(),
): void {
  const big = [...e.parts].sort((a, b) => b.bytes - a.bytes)[0];
  const lower = (p: MemoryPart) => p.flags.map((f) => `${f}${flagValue(config, f)}`).join(' or ');
  if (e.totalBytes > mem.available) {
    throw new UsageError(
      `this run needs about ${formatBytes(e.totalBytes)} of memory (${big.name} ${formatBytes(big.bytes)}), more than the ${formatBytes(mem.available)} available (${formatBytes(mem.total)} total); lower ${lower(big)}, or set COORDRL_MEMORY_LIMIT (e.g. 64G) if the machine can hold it`,
    );
  }
  const tooLong = e.parts.find((p) => p.largestArray > MAX_ARRAY_ELEMENTS);
  if (tooLong) {
    throw new UsageError(
      `the ${tooLong.name} would need an array of ${tooLong.largestArray.toExponential(2)} elements, more than the ${MAX_ARRAY_ELEMENTS.toExponential(2)} one can hold (run memory about ${formatBytes(e.totalBytes)}); lower ${lower(tooLong)}`,
    );
  }
}
