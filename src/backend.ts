// Chooses and loads the TensorFlow.js backend: native TensorFlow (GPU or CPU) when it works,
// the pure-JS 'cpu' backend only as a last resort (about 900x slower to train).
//
// Every module imports tfjs through `@tensorflow/tfjs` (see src/tf.ts). The native packages
// register their backend into that same tfjs-core instance, so loading one here is enough.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { installNativeGradients } from './native/tf-native.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What was found when trying to load one native package. */
export interface NativeProbe {
  /** The package loaded and registered the 'tensorflow' backend. */
  loaded: boolean;
  /** TensorFlow really placed work on a CUDA GPU (only meaningful for the GPU package). */
  usesGpu: boolean;
  error?: string;
}

export interface BackendDecision {
  backend: 'tensorflow' | 'cpu';
  package: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node' | null;
  warnings: string[];
}

/**
 * The selection rule, kept pure so it can be unit-tested without native libraries.
 * `probe` is called lazily: `auto` tries the GPU package first and takes it only when it
 * loads *and* sees a GPU (tfjs-node-gpu built for another CUDA silently runs on the CPU).
 */
export function decideBackend(
  choice: BackendChoice,
  probe: (pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node') => NativeProbe,
): BackendDecision {
  const warnings: string[] = [];
  const gpuPkg = '@tensorflow/tfjs-node-gpu' as const;
  const cpuPkg = '@tensorflow/tfjs-node' as const;
  if (choice === 'cpu') return { backend: 'cpu', package: null, warnings };
  if (choice === 'tensorflow-gpu') {
    const p = probe(gpuPkg);
    if (!p.loaded) {
      throw new BackendError(
        `--backend tensorflow-gpu: ${gpuPkg} does not load (${p.error ?? 'unknown error'}). Run \`npm run setup:gpu\`, or use --backend auto.`,
      );
    }
    if (!p.usesGpu) {
      throw new BackendError(
        `--backend tensorflow-gpu: ${gpuPkg} loaded but TensorFlow sees no CUDA GPU (driver or CUDA libraries missing?). Use --backend tensorflow for the CPU.`,
      );
    }
    return { backend: 'tensorflow', package: gpuPkg, warnings };
  }
  if (choice === 'auto') {
    const g = probe(gpuPkg);
    if (g.loaded && g.usesGpu) return { backend: 'tensorflow', package: gpuPkg, warnings };
    if (g.loaded && !g.usesGpu) warnings.push(`${gpuPkg} loaded but sees no GPU; using the CPU build instead.`);
  }
  const c = probe(cpuPkg);
  if (c.loaded) return { backend: 'tensorflow', package: cpuPkg, warnings };
  if (choice === 'tensorflow') {
    throw new BackendError(
      `--backend tensorflow: ${cpuPkg} does not load (${c.error ?? 'unknown error'}). Run \`npm run setup -- --force\`, then \`npx coordrl doctor\`.`,
    );
  }
  warnings.push(
    `native TensorFlow is not available (${c.error ?? 'unknown error'}); falling back to the pure-JS 'cpu' backend, about 900x slower to train. Fix: \`npm run setup -- --force\`.`,
  );
  return { backend: 'cpu', package: null, warnings };
}

export class BackendError extends Error {
  override name = 'BackendError';
}

export interface BackendInfo {
  requested: BackendChoice;
  /** The tfjs backend that really runs: 'tensorflow' (native) or 'cpu' (pure JS). */
  backend: string;
  package: string | null;
  /** Where TensorFlow places work: 'gpu' only when the native library reports a GPU device. */
  device: 'gpu' | 'cpu';
  tensorflowVersion: string | null;
  tfjsVersion: string;
  warnings: string[];
}

interface NativeBinding {
  TF_Version?: string;
  isUsingGpuDevice?: () => boolean;
}
interface NativeBackend {
  binding?: NativeBinding;
  isUsingGpuDevice?: boolean;
}

const require = createRequire(import.meta.url);
let active: BackendInfo | null = null;
let nodeModule: unknown = null;

function loadNative(pkg: string): NativeProbe {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // Lets CPU devices join XLA clusters in sessions that ask for it (src/compiled/runtime.ts: small
  // DQN graphs); sessions without global_jit_level and eager ops are unaffected. Read once by TF.
  const xlaFlags = process.env.TF_XLA_FLAGS ?? '';
  if (process.env.COORDRL_XLA !== '0' && !xlaFlags.includes('--tf_xla_cpu_global_jit'))
    process.env.TF_XLA_FLAGS = `${xlaFlags} --tf_xla_cpu_global_jit`.trim();
  try {
    nodeModule = require(pkg);
    if (!tf.findBackend('tensorflow'))
      return { loaded: false, usesGpu: false, error: 'no tensorflow backend registered' };
    tf.setBackend('tensorflow');
    const b = tf.backend() as unknown as NativeBackend;
    return { loaded: true, usesGpu: b.isUsingGpuDevice === true };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { loaded: false, usesGpu: false, error: msg };
  }
}

/**
 * Loads the backend for `choice` once per process and returns what really runs.
 * A second call with another choice is an error: tfjs cannot unload a native backend.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active) {
    if (active.requested !== choice && choice !== 'auto') {
      throw new BackendError(`backend already initialised as '${active.requested}', cannot switch to '${choice}'`);
    }
    return active;
  }
  const decision = decideBackend(choice, loadNative);
  await tf.setBackend(decision.backend);
  await tf.ready();
  const b = tf.backend() as unknown as NativeBackend;
  if (decision.backend === 'tensorflow') installNativeGradients();
  active = {
    requested: choice,
    backend: tf.getBackend(),
    package: decision.package,
    device: decision.backend === 'tensorflow' && b.isUsingGpuDevice === true ? 'gpu' : 'cpu',
    tensorflowVersion: decision.backend === 'tensorflow' ? (b.binding?.TF_Version ?? null) : null,
    tfjsVersion: tf.version_core,
    warnings: decision.warnings,
  };
  return active;
}

/** The loaded native package (`tf.node.*` lives there), or null on the pure-JS backend. */
export function nativeModule(): unknown {
  return nodeModule;
}

export function activeBackend(): BackendInfo | null {
  return active;
}
