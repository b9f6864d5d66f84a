// An in-process vector env whose observations, rewards and episode ends are plain functions, for
// benchmarks that time the agent alone (`coordrl bench nn`) and for agent tests that need two
// agents to see identical transitions (test/helpers/fake-env.ts). No Python, no sockets.
import type { AgentEnv, AgentStep } from '../agent.js';

export interface ScriptedEnvSpec {
  numEnvs: number;
  shape: number[];
  dtype: 'uint8' | 'float32';
  nActions: number;
  /** Fills `out` (numEnvs x size values) with the observation of call `t` (1 for the reset). */
  observe(out: Uint8Array | Float32Array, t: number): void;
  /** The reward of env i for action a at call t. */
  reward(a: number, i: number, t: number): number;
  /** Whether env i's episode ends at call t. */
  terminated(i: number, t: number): boolean;
}

export function scriptedEnv(spec: ScriptedEnvSpec): AgentEnv {
  const { numEnvs, shape, dtype, nActions } = spec;
  const size = shape.reduce((a, b) => a * b, 1);
  let t = 0;
  const obs = () => {
    t++;
    const o = dtype === 'uint8' ? new Uint8Array(numEnvs * size) : new Float32Array(numEnvs * size);
    spec.observe(o, t);
    return o;
  };
  let pending: Int32Array = new Int32Array(numEnvs);
  const step = async (a: Int32Array): Promise<AgentStep> => {
    const o = obs();
    return {
      obs: o,
      rewards: Float32Array.from(a, (x, i) => spec.reward(x, i, t)),
      terminated: Uint8Array.from(a, (_, i) => (spec.terminated(i, t) ? 1 : 0)),
      truncated: new Uint8Array(numEnvs),
    };
  };
  return {
    numEnvs,
    observationSpace: { shape, dtype, size },
    actionSpace: { n: nActions },
    reset: async () => ({ obs: obs() }),
    step,
    stepAsync: (a) => {
      pending = a;
    },
    stepWait: () => step(pending),
  };
}
