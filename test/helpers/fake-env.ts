// A deterministic vector env for agent tests: observations, rewards and episode ends are
// functions of the step count, so two agents built alike see the same transitions.
import type { AgentEnv, AgentStep } from '../../src/agent.js';

/** A deterministic vector env: observations are a function of the step count. */
export type Pixel = (i: number, t: number) => number;
export const bytePixel: Pixel = (i, t) => (i * 7 + t * 13) % 256;

export function fakeEnv(
  shape: number[],
  dtype: 'uint8' | 'float32',
  numEnvs: number,
  nActions: number,
  pixel: Pixel = bytePixel,
): AgentEnv {
  const size = shape.reduce((a, b) => a * b, 1);
  let t = 0;
  const obs = () => {
    t++;
    const o = dtype === 'uint8' ? new Uint8Array(numEnvs * size) : new Float32Array(numEnvs * size);
    for (let i = 0; i < o.length; i++) o[i] = dtype === 'uint8' ? pixel(i, t) : Math.sin(i + t);
    return o;
  };
  let pending: Int32Array | null = null;
  const step = async (a: Int32Array): Promise<AgentStep> => ({
    obs: obs(),
    rewards: Float32Array.from(a, (x, i) => ((x + i + t) % 3) - 1),
    terminated: Uint8Array.from(a, (_, i) => ((t + i) % 7 === 0 ? 1 : 0)),
    truncated: new Uint8Array(numEnvs),
  });
  return {
    numEnvs,
    observationSpace: { shape, dtype, size },
    actionSpace: { n: nActions },
    reset: async () => ({ obs: obs() }),
    step,
    stepAsync: (a) => {
      pending = a;
    },
    stepWait: () => step(pending ?? new Int32Array(numEnvs)),
  };
}
