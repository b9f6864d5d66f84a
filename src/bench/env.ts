// `coordrl bench env`: env steps/s through the bridge vs. the raw vector env inside Python, plus the
// round-trip latency of a tiny message. Random actions. The bridge run steps one env group lock-step
// by default; with --groups > 1 it double-buffers them (one group steps while the next group's
// actions are chosen). The raw run is AtariVectorEnv.step in a Python loop with all cores.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { makeVecEnv } from '../../envs/make.js';
import { bridgeDir, defaultPython } from '../../envs/paths.js';
import type { AtariOptions } from '../../envs/types.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { note } from '../util/output.js';
import { percentile } from './timing.js';

export interface BenchEnvOptions {
  env: string;
  numEnvs: number;
  /** Seconds of stepping for each of raw and bridge (split over `rounds`). */
  seconds: number;
  /** Env groups of the bridge run (1: lock-step; 2+: double buffering). */
  groups: number;
  /** Raw and bridge runs alternate this many times (the machine may be shared). */
  rounds: number;
  layout: 'NHWC' | 'NCHW';
  pings: number;
  /** Simulated agent work per group step (busy CPU, ms): shows what double buffering overlaps. */
  agentMs?: number;
  atari?: AtariOptions;
  python?: string;
}

export interface BenchEnvResult {
  env: string;
  numEnvs: number;
  groups: number;
  layout: string;
  threadsPerGroup: number;
  rawThreads: number;
  seconds: number;
  rounds: number;
  /** Env steps (agent steps summed over envs) per second. */
  bridgeStepsPerSec: number;
  rawStepsPerSec: number;
  ratio: number;
  /** Whole-vector lock-step (step() awaited each time) through the bridge. */
  bridgeLockstepStepsPerSec: number;
  perRound: { raw: number; bridge: number }[];
  agentMs: number;
  roundTripMs: { p50: number; p95: number; mean: number };
}

/** Burns CPU for `ms` milliseconds, like an agent's inference would. */
function busy(ms: number): void {
  if (ms <= 0) return;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

async function runRaw(opts: BenchEnvOptions, seconds: number, threads: number): Promise<number> {
  const options = JSON.stringify({ ...(opts.atari ?? {}), numThreads: threads });
  const args = ['-m', 'coordrl_bridge.tools', 'bench-raw', '--env', opts.env, '--num-envs', String(opts.numEnvs)];
  args.push('--seconds', String(seconds), '--options', options);
  const python = opts.python ?? defaultPython();
  return await new Promise<number>((resolve, reject) => {
    const child = spawn(python, args, { cwd: bridgeDir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', (e) => reject(new UserFacingError(`cannot run ${python}: ${e.message}`)));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new UserFacingError(`raw benchmark failed (code ${code}): ${err.trim()}`));
      try {
        resolve((JSON.parse(out.trim().split('\n').pop() ?? '') as { stepsPerSec: number }).stepsPerSec);
      } catch {
        reject(new UserFacingError(`raw benchmark printed no result: ${out}${err}`));
      }
    });
  });
}

/** Random actions in [0, n) from a xorshift generator (cheap, no allocation). */
function fillRandom(a: Int32Array, n: number, state: { s: number }): void {
  let s = state.s;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = (s >>> 0) % n;
  }
  state.s = s;
}

export async function benchEnv(opts: BenchEnvOptions): Promise<BenchEnvResult> {
  if (opts.groups > opts.numEnvs)
    throw new UsageError(`--groups (${opts.groups}) cannot exceed --num-envs (${opts.numEnvs})`);
  const cores = availableParallelism();
  const threadsPerGroup = opts.atari?.numThreads ?? Math.max(1, Math.floor(cores / opts.groups));
  const rawThreads = opts.atari?.numThreads ?? cores;
  const env = await makeVecEnv({
    env: opts.env,
    numEnvs: opts.numEnvs,
    groups: opts.groups,
    layout: opts.layout,
    atari: { ...(opts.atari ?? {}), numThreads: threadsPerGroup },
    spawn: opts.python ? { python: opts.python } : {},
  });
  try {
    // Round trip of a tiny message.
    const server = env.servers[0];
    for (let i = 0; i < 50; i++) await server.ping();
    const rtt: number[] = [];
    for (let i = 0; i < opts.pings; i++) rtt.push(await server.ping());
    rtt.sort((a, b) => a - b);
    const roundTripMs = {
      p50: percentile(rtt, 50, 'floor'),
      p95: percentile(rtt, 95, 'floor'),
      mean: rtt.reduce((a, b) => a + b, 0) / rtt.length,
    };

    await env.reset(0);
    const n = env.actionSpace.n;
    const rng = { s: 0x2545f491 };
    const groups = env.groups;
    const acts = groups.map((g) => new Int32Array(g.numEnvs));
    const per = opts.seconds / opts.rounds;
    const agentMs = opts.agentMs ?? 0;

    const bridgeRun = async (seconds: number): Promise<{ steps: number; secs: number }> => {
      // Double buffering: every group always has a step in flight except while its next actions are made.
      groups.forEach((g, k) => {
        fillRandom(acts[k], n, rng);
        g.stepAsync(acts[k]);
      });
      let steps = 0;
      const t0 = performance.now();
      const deadline = t0 + seconds * 1000;
      let now = t0;
      while (now < deadline) {
        for (let k = 0; k < groups.length; k++) {
          await groups[k].stepWait();
          steps += groups[k].numEnvs;
          busy(agentMs);
          fillRandom(acts[k], n, rng);
          groups[k].stepAsync(acts[k]);
        }
        now = performance.now();
      }
      for (const g of groups) await g.stepWait();
      return { steps, secs: (now - t0) / 1000 };
    };

    note(
      `bench env: ${opts.env}, ${opts.numEnvs} envs in ${opts.groups} group(s), ${opts.seconds}s each for raw and bridge`,
    );
    await bridgeRun(Math.min(1, per / 4)); // warm-up
    const perRound: { raw: number; bridge: number }[] = [];
    let bridgeSteps = 0;
    let bridgeSecs = 0;
    let rawWeighted = 0;
    for (let r = 0; r < opts.rounds; r++) {
      const raw = await runRaw(opts, per, rawThreads);
      const b = await bridgeRun(per);
      bridgeSteps += b.steps;
      bridgeSecs += b.secs;
      rawWeighted += raw * per;
      perRound.push({ raw, bridge: b.steps / b.secs });
      note(
        `  round ${r + 1}/${opts.rounds}: raw ${raw.toFixed(0)} steps/s, bridge ${(b.steps / b.secs).toFixed(0)} steps/s`,
      );
    }
    // Whole-vector lock-step for reference (no overlap with the caller); with one group that is the run above.
    let bridgeLockstepStepsPerSec = bridgeSteps / bridgeSecs;
    if (groups.length > 1) {
      const all = new Int32Array(env.numEnvs);
      let lockSteps = 0;
      const t0 = performance.now();
      const lockSecs = Math.min(3, per);
      while (performance.now() - t0 < lockSecs * 1000) {
        for (const _ of groups) busy(agentMs); // the same agent work per group, not overlapped
        fillRandom(all, n, rng);
        await env.step(all);
        lockSteps += env.numEnvs;
      }
      bridgeLockstepStepsPerSec = lockSteps / ((performance.now() - t0) / 1000);
    }

    const rawStepsPerSec = rawWeighted / (per * opts.rounds);
    const bridgeStepsPerSec = bridgeSteps / bridgeSecs;
    return {
      env: env.envId,
      numEnvs: opts.numEnvs,
      groups: opts.groups,
      layout: env.observationSpace.layout,
      threadsPerGroup,
      rawThreads,
      seconds: opts.seconds,
      rounds: opts.rounds,
      bridgeStepsPerSec,
      rawStepsPerSec,
      ratio: bridgeStepsPerSec / rawStepsPerSec,
      bridgeLockstepStepsPerSec,
      perRound,
      agentMs,
      roundTripMs,
    };
  } finally {
    await env.close();
  }
}

export function formatBenchEnv(r: BenchEnvResult): string {
  return [
    `env ${r.env}: ${r.numEnvs} envs, bridge in ${r.groups} group(s) x ${r.threadsPerGroup} ALE thread(s), ${r.layout}; raw with ${r.rawThreads} thread(s)`,
    `  raw vector env      ${r.rawStepsPerSec.toFixed(0)} steps/s`,
    `  bridge              ${r.bridgeStepsPerSec.toFixed(0)} steps/s  (ratio ${r.ratio.toFixed(2)})${r.agentMs ? ` with ${r.agentMs} ms agent work per group step` : ''}`,
    ...(r.groups > 1
      ? [`  bridge lock-step    ${r.bridgeLockstepStepsPerSec.toFixed(0)} steps/s  (whole vector, no overlap)`]
      : []),
    `  round trip (ping)   p50 ${r.roundTripMs.p50.toFixed(3)} ms, p95 ${r.roundTripMs.p95.toFixed(3)} ms`,
  ].join('\n');
}
