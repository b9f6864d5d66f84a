// The memory a run will need, estimated from its configuration and the env's observation space
// before anything big is allocated: a flag such as --batch-size 1000000000 is refused with one
// line naming it, instead of growing to tens of GB or dying in `new Float32Array`.
import { freemem, totalmem } from 'node:os';
import { type MemoryPart, type ObsSpace, observationSize } from '../algorithms/memory-parts.js';
import { algorithm } from '../algorithms/registry.js';
import type { RunConfig } from '../run-config.js';
import { UsageError } from '../util/cli-errors.js';

export type { MemoryPart, ObsSpace } from '../algorithms/memory-parts.js';

export interface MemoryEstimate {
  totalBytes: number;
  parts: MemoryPart[];
}

/** TensorFlow, Node and the libraries before any run data (measured ~0.3 GB RSS on CPU). */
const RUNTIME_BYTES = 300e6;
/** One array or tensor holds at most this many elements here (TF's int32 sizes). */
export const MAX_ARRAY_ELEMENTS = 2 ** 31 - 1;

/**
 * Bytes of the biggest allocations: what the run's algorithm allocates (its entry's memory parts:
 * replay buffer, rollout, sample and batch tensors with their activations and gradients), network
 * parameters with gradients and optimizer slots, the env's observation buffers, and the runtime.
 */
export function estimateRunMemory(config: RunConfig, obs: ObsSpace, params: number): MemoryEstimate {
  const { elements: obsSize, bytes: obsBytes } = observationSize(obs);
  const n = config.numEnvs;
  const algo = algorithm(config.algo);
  const parts: MemoryPart[] = [...algo.memory.parts(config, obs)];
  parts.push({
    name: 'env observations',
    // current, next and final observations, and the bridge's receive buffers
    bytes: 4 * n * obsBytes,
    flags: ['--num-envs'],
    largestArray: n * obsSize,
  });
  parts.push({
    name: 'networks',
    bytes: params * 4 * algo.memory.parameterCopies,
    flags: ['--torso', '--env'],
    largestArray: 0,
  });
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
