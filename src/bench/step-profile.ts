// `coordrl bench train --profile`: where one env step of the training loop goes. The agent hands
// its phases (act, update) to a profiler (TrainableAgent.profiler); the public calls around them
// (replay add and sample, the target sync, the session runs of the compiled graph, the env's send
// and wait) are wrapped on the instances for the measured window. All are timed exclusively (a
// nested call's time is its own row, not its parent's). The env server reports its side (`stats`
// op): time in the env itself and in request handling; the Node-side transport is what a lock-step
// round trip costs beyond that, measured after the loop.
import { PerformanceObserver } from 'node:perf_hooks';
import type { BridgeVecEnv } from '../../envs/index.js';
import type { AgentPhase, TrainableAgent } from '../agent.js';
import { runtimeFor } from '../compiled/runtime.js';
import { percentile } from './timing.js';

export interface ProfileRow {
  /** Phase, in loop order; "a / b" is b called inside a (its time is not in a's row). */
  name: string;
  calls: number;
  /** Exclusive time per env step, microseconds. */
  usPerStep: number;
  /** Fraction of the loop's wall time. */
  share: number;
}

export interface StepProfile {
  envSteps: number;
  usPerStep: number;
  /** Rows sum to usPerStep (the last row, "rest of the loop", is what no wrapped call took). */
  rows: ProfileRow[];
  /** TensorFlow session runs (compiled forward passes, updates, uploads) per env step: each is one host sync. */
  sessionRunsPerStep: number;
  gc: { collections: number; usPerStep: number };
  /** The env server's side of each step, measured by the server (null: not a bridge env). */
  server: { envStepUs: number; requestUs: number } | null;
  /** Lock-step round trips after the loop (random actions): p50 through the bridge, and the part of it outside the server. */
  roundTrip: { steps: number; p50Us: number; meanUs: number; serverUs: number; transportUs: number } | null;
}

interface Frame {
  label: string;
  child: number;
}

/** The rows of the agent's own phases (AgentProfiler). */
const PHASE_ROWS: Record<AgentPhase, string> = { act: 'act (forward pass, argmax)', update: 'update' };

/** Exclusive wall time of timed calls, nested by call stack. */
class PhaseTimer {
  readonly totals = new Map<string, { calls: number; ms: number }>();
  private readonly stack: Frame[] = [];
  private readonly restores: (() => void)[] = [];

  private label(name: string): string {
    const top = this.stack[this.stack.length - 1];
    return top ? `${top.label} / ${name}` : name;
  }

  private add(label: string, ms: number): void {
    const t = this.totals.get(label) ?? { calls: 0, ms: 0 };
    t.calls++;
    t.ms += ms;
    this.totals.set(label, t);
  }

  /** Runs `fn` as the row `name` (inside the running one, if any); its time less its nested rows'. */
  time<T>(name: string, fn: () => T): T {
    const frame = { label: this.label(name), child: 0 };
    this.stack.push(frame);
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      const ms = performance.now() - t0;
      this.stack.pop();
      this.add(frame.label, ms - frame.child);
      const parent = this.stack[this.stack.length - 1];
      if (parent) parent.child += ms;
    }
  }

  /** Times every call of the public method obj[key] as the row `name`, until `restore()`. */
  wrap<T extends object, K extends MethodKey<T>>(obj: T, key: K, name: string): void {
    const fn = obj[key] as Method;
    const own = Object.hasOwn(obj, key);
    this.replace(obj, key, (...args) => this.time(name, () => fn.apply(obj, args)), own, fn);
  }

  /** Replaces an async method: the time from the call until its promise settles (nothing nests in it). */
  wrapAsync<T extends object, K extends MethodKey<T>>(obj: T, key: K, name: string): void {
    const fn = obj[key] as Method;
    const own = Object.hasOwn(obj, key);
    this.replace(
      obj,
      key,
      async (...args) => {
        const label = this.label(name);
        const t0 = performance.now();
        try {
          return await fn.apply(obj, args);
        } finally {
          this.add(label, performance.now() - t0);
        }
      },
      own,
      fn,
    );
  }

  private replace<T extends object>(obj: T, key: keyof T, timed: Method, own: boolean, fn: Method): void {
    const rec = obj as Record<keyof T, unknown>;
    rec[key] = timed;
    this.restores.push(() => {
      if (own) rec[key] = fn;
      else delete rec[key];
    });
  }

  restore(): void {
    for (const r of this.restores.reverse()) r();
    this.restores.length = 0;
  }
}

type Method = (...args: unknown[]) => unknown;
/** The keys of T's methods. */
type MethodKey<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/** Instruments a DQN or A2C agent and its env; `finish` restores them and returns the profile. */
export async function startStepProfile(
  agent: TrainableAgent,
  env: BridgeVecEnv,
): Promise<{ finish: (envSteps: number, wallMs: number) => Promise<StepProfile> }> {
  const timer = new PhaseTimer();
  // The agent's own phases through its profiling hook; around them, public methods of the env, of
  // the replay buffer and networks the agent checkpoints, and of its compiled graph's runtime.
  agent.profiler = { phase: (name, fn) => timer.time(PHASE_ROWS[name], fn) };
  timer.wrap(env, 'stepAsync', 'env: encode + send step');
  const { replay, models } = agent.checkpointParts();
  if (replay) timer.wrap(replay, 'sample', 'replay sample');
  // A target network (DQN) is synced from the online one every targetUpdateInterval transitions.
  if (models.target && models.online) {
    timer.wrap(models.online, 'getWeights', 'target sync: read online weights');
    timer.wrap(models.target, 'setWeights', 'target sync: set target weights');
  }
  timer.wrapAsync(env, 'stepWait', 'env: wait for the reply');
  if (replay) timer.wrap(replay, 'add', 'replay add');
  // The agents key their compiled graph on their env (PolicyNetwork.graphOwner).
  const rt = runtimeFor(env);
  if (rt) {
    timer.wrap(rt.g, 'run', 'session run');
    timer.wrap(rt, 'writeBack', 'weight write-back');
  }
  const group = env.groups.length === 1 ? env.groups[0] : null;
  const server0 = group ? await group.serverStats() : null;
  let gcCount = 0;
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });

  return {
    finish: async (envSteps, wallMs) => {
      obs.disconnect();
      timer.restore();
      agent.profiler = undefined;
      const server1 = group ? await group.serverStats() : null;
      const per = (ms: number) => (ms * 1000) / envSteps;
      const rows: ProfileRow[] = [];
      let inCalls = 0;
      let sessionRuns = 0;
      for (const [name, t] of timer.totals) {
        rows.push({ name, calls: t.calls, usPerStep: per(t.ms), share: t.ms / wallMs });
        inCalls += t.ms;
        if (name.endsWith('session run')) sessionRuns += t.calls;
      }
      rows.push({
        name: 'rest of the loop (epsilon, rng, arrays, bookkeeping, promise ticks)',
        calls: envSteps,
        usPerStep: per(wallMs - inCalls),
        share: (wallMs - inCalls) / wallMs,
      });
      const server =
        server0 && server1 && server1.steps > server0.steps
          ? {
              envStepUs: ((server1.stepSeconds - server0.stepSeconds) * 1e6) / (server1.steps - server0.steps),
              requestUs: ((server1.serveSeconds - server0.serveSeconds) * 1e6) / (server1.steps - server0.steps),
            }
          : null;
      return {
        envSteps,
        usPerStep: per(wallMs),
        rows,
        sessionRunsPerStep: sessionRuns / envSteps,
        gc: { collections: gcCount, usPerStep: per(gcMs) },
        server,
        roundTrip: group ? await lockstepRoundTrip(env, group) : null,
      };
    },
  };
}

/** Lock-step env steps with random actions: the bridge's round trip and the server's share of it. */
async function lockstepRoundTrip(env: BridgeVecEnv, group: BridgeVecEnv['groups'][number]) {
  const steps = 2000;
  const actions = new Int32Array(env.numEnvs);
  const times: number[] = [];
  const s0 = await group.serverStats();
  for (let i = 0; i < steps; i++) {
    for (let k = 0; k < actions.length; k++) actions[k] = (i + k) % env.actionSpace.n;
    const t0 = performance.now();
    await env.step(actions);
    times.push((performance.now() - t0) * 1000);
  }
  const s1 = await group.serverStats();
  times.sort((x, y) => x - y);
  const meanUs = times.reduce((s, x) => s + x, 0) / steps;
  // serveSeconds also counts the two stats requests: a few microseconds over 2,000 steps.
  const serverUs = ((s1.serveSeconds - s0.serveSeconds) * 1e6) / (s1.steps - s0.steps);
  return { steps, p50Us: percentile(times, 50, 'floor'), meanUs, serverUs, transportUs: meanUs - serverUs };
}

/** The profile as text (stderr or stdout without --json). */
export function formatStepProfile(p: StepProfile): string {
  const lines = [
    `per env step: ${p.usPerStep.toFixed(1)} us over ${p.envSteps} steps (exclusive times; "a / b" is b inside a)`,
  ];
  const w = Math.max(...p.rows.map((r) => r.name.length));
  for (const r of p.rows) {
    const calls = (r.calls / p.envSteps).toFixed(2);
    lines.push(
      `  ${r.name.padEnd(w)}  ${r.usPerStep.toFixed(1).padStart(7)} us  ${(100 * r.share).toFixed(1).padStart(5)}%  ${calls} calls/step`,
    );
  }
  lines.push(`  session runs (host syncs) per step: ${p.sessionRunsPerStep.toFixed(2)}`);
  lines.push(
    `  garbage collection: ${p.gc.collections} collections, ${p.gc.usPerStep.toFixed(1)} us/step (inside the rows above)`,
  );
  if (p.server)
    lines.push(
      `  env server, per step: ${p.server.envStepUs.toFixed(1)} us in the env, ${p.server.requestUs.toFixed(1)} us handling the request (incl. the env)`,
    );
  if (p.roundTrip)
    lines.push(
      `  lock-step round trip (${p.roundTrip.steps} steps): p50 ${p.roundTrip.p50Us.toFixed(1)} us, mean ${p.roundTrip.meanUs.toFixed(1)} us = server ${p.roundTrip.serverUs.toFixed(1)} + transport and client ${p.roundTrip.transportUs.toFixed(1)}`,
    );
  return lines.join('\n');
}
