// A deterministic vector env for agent tests: observations, rewards and episode ends are
// functions of the step count, so two agents built alike see the same transitions.
import type { AgentEnv } from '../../src/agent.js';
import { scriptedEnv } from '../../src/training/scripted-env.js';

/** The value of byte i of the observation at call t (uint8 observations). */
export type Pixel = (i: number, t: number) => number;
export const bytePixel: Pixel = (i, t) => (i * 7 + t * 13) % 256;

export function fakeEnv(
  shape: number[],
  dtype: 'uint8' | 'float32',
  numEnvs: number,
  nActions: number,
  pixel: Pixel = bytePixel,
): AgentEnv {
  return scriptedEnv({
    numEnvs,
    shape,
    dtype,
    nActions,
    observe: (o, t) => {
      for (let i = 0; i < o.length; i++) o[i] = dtype === 'uint8' ? pixel(i, t) : Math.sin(i + t);
    },
    reward: (a, i, t) => ((a + i + t) % 3) - 1,
    terminated: (i, t) => (t + i) % 7 === 0,
  });
}
