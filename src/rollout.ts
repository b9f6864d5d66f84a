// The env loop of an on-policy rollout (A2C): every env steps nSteps times on the current policy.
// When the envs come in several independently stepped groups (`AgentEnv.groups`, e.g. two env
// groups of the bridge, each on its own server thread), the loop is pipelined: while one group
// steps in the env server, the agent computes the actions of the next group and records the step
// of the previous one, instead of the learner waiting for all envs and then the envs waiting for
// the learner (EnvPool's async stepping, Sample Factory's double-buffered sampling).
//
// The maths does not change: each env still acts on the observation its previous action led to,
// with the same policy, and `act` is called in the same order as without pipelining (step t of
// group 0, of group 1, ..., then step t + 1), so a seeded sampler draws the same numbers for the
// same env slots. What can differ is the batch size of the inference (a group instead of all
// envs), which may change the network outputs in the last bits (see docs/speed.md).
import type { AgentEnv, AgentStep } from './agent.js';

type Obs = Uint8Array | Float32Array;

/** The env slots [start, start + count) of one group. */
export interface EnvSlice {
  readonly start: number;
  readonly count: number;
}

export interface RolloutHooks {
  /** The actions of the slice's envs at step t (count of them) from their observations (count rows). */
  act(t: number, slice: EnvSlice, obs: Obs): Int32Array;
  /** The slice's step t (env indices in `step` count from slice.start). */
  record(t: number, slice: EnvSlice, step: AgentStep): void;
  /** The slice's observations after its last step (for the bootstrap values). */
  last(slice: EnvSlice, obs: Obs): void;
}

/** Where the loop's time went, in milliseconds, summed over calls (see `coordrl bench rollout`). */
export interface RolloutTimes {
  /** Inside `act` (inference, sampling) and `last`. */
  act: number;
  /** Sending actions (stepAsync: encoding the request, the socket send). */
  send: number;
  /** Blocked waiting for env replies: the env work and the bridge that the loop did not hide. */
  wait: number;
  /** Inside `record` (the agent's bookkeeping). */
  record: number;
  /** The env server's own time in the steps (their `envMs`), hidden or not. */
  env: number;
  /** Env steps waited for (group steps, or whole steps without pipelining). */
  steps: number;
}

export function newRolloutTimes(): RolloutTimes {
  return { act: 0, send: 0, wait: 0, record: 0, env: 0, steps: 0 };
}

type Part = 'act' | 'send' | 'wait' | 'record';

/** Adds the time since its previous call to one part of `times` (does nothing without them). */
function stopwatch(times: RolloutTimes | undefined): (part: Part, step?: AgentStep) => void {
  if (!times) return () => {};
  let last = performance.now();
  return (part, step) => {
    const now = performance.now();
    times[part] += now - last;
    last = now;
    if (step) {
      times.env += step.envMs ?? 0;
      times.steps++;
    }
  };
}

/**
 * Steps the envs nSteps times from `obs` (all envs, in slot order), calling the hooks, and returns
 * the observations after the last step (all envs). Pipelined when `pipeline` is set and the env
 * has two or more groups; otherwise one batched `act` and one `step` of all envs per step.
 */
export async function collectRollout(
  env: AgentEnv,
  obs: Obs,
  nSteps: number,
  hooks: RolloutHooks,
  opts: { pipeline: boolean; times?: RolloutTimes },
): Promise<Obs> {
  const groups = env.groups;
  if (opts.pipeline && groups && groups.length >= 2) return pipelined(env, groups, obs, nSteps, hooks, opts.times);
  return lockStep(env, obs, nSteps, hooks, opts.times);
}

async function lockStep(env: AgentEnv, obs: Obs, nSteps: number, hooks: RolloutHooks, times?: RolloutTimes) {
  const all: EnvSlice = { start: 0, count: env.numEnvs };
  const lap = stopwatch(times);
  for (let t = 0; t < nSteps; t++) {
    const actions = hooks.act(t, all, obs);
    lap('act');
    env.stepAsync(actions);
    lap('send');
    const step = await env.stepWait();
    lap('wait', step);
    hooks.record(t, all, step);
    lap('record');
    obs = step.obs;
  }
  hooks.last(all, obs);
  lap('act');
  return obs;
}

async function pipelined(
  env: AgentEnv,
  groups: readonly AgentEnv[],
  obs: Obs,
  nSteps: number,
  hooks: RolloutHooks,
  times?: RolloutTimes,
): Promise<Obs> {
  const size = env.observationSpace.size;
  const slices: EnvSlice[] = [];
  let start = 0;
  for (const g of groups) {
    slices.push({ start, count: g.numEnvs });
    start += g.numEnvs;
  }
  if (start !== env.numEnvs) throw new Error(`env groups hold ${start} envs, the env ${env.numEnvs}`);
  const current = slices.map((s) => obs.subarray(s.start * size, (s.start + s.count) * size));
  const lap = stopwatch(times);
  // Which groups have a step in flight: on an error, those are waited for before it is thrown, so
  // that the env is idle again (the next stepAsync would refuse otherwise).
  const inFlight = groups.map(() => false);
  const send = (k: number, actions: Int32Array) => {
    lap('act');
    groups[k].stepAsync(actions);
    inFlight[k] = true;
    lap('send');
  };
  try {
    // Start every group on step 0: group k's actions are computed while groups 0..k-1 step.
    for (let k = 0; k < groups.length; k++) send(k, hooks.act(0, slices[k], current[k]));
    // Then round-robin: take group k's step t, record it, send its step t + 1 (the other groups
    // step meanwhile), next group.
    for (let t = 0; t < nSteps; t++) {
      for (let k = 0; k < groups.length; k++) {
        inFlight[k] = false;
        const step = await groups[k].stepWait();
        lap('wait', step);
        hooks.record(t, slices[k], step);
        lap('record');
        current[k] = step.obs;
        if (t + 1 < nSteps) send(k, hooks.act(t + 1, slices[k], step.obs));
        else {
          hooks.last(slices[k], step.obs);
          lap('act');
        }
      }
    }
  } catch (e) {
    await Promise.all(groups.map((g, k) => (inFlight[k] ? g.stepWait().catch(() => {}) : null)));
    throw e;
  }
  const next = obs instanceof Uint8Array ? new Uint8Array(env.numEnvs * size) : new Float32Array(env.numEnvs * size);
  slices.forEach((s, k) => {
    next.set(current[k], s.start * size);
  });
  return next;
}
