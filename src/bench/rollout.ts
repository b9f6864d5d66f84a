// `coordrl bench rollout`: where one A2C iteration's time goes (a real training loop, as `bench
// train`): the env server's own step time, the bridge and the waiting it leaves, inference,
// sampling and the rollout's bookkeeping in JS, the update. With the pipelined rollout the env
// time overlaps the learner's work, so the parts do not add up to the env time plus the rest.
import { readFileSync } from 'node:fs';
import type { A2C } from '../../agents/a2c.js';
import { newRolloutTimes, type RolloutTimes } from '../rollout.js';
import { benchTrain, type TrainBenchResult } from './train.js';

export interface RolloutProfile extends TrainBenchResult {
  nSteps: number;
  /** Milliseconds per iteration (nSteps x numEnvs env steps and one update). */
  perIteration: {
    total: number;
    /** Network forward passes (each one session run and one host read of its outputs). */
    inference: number;
    inferenceCalls: number;
    /** Sampling the actions and copying the observations into the rollout batch. */
    sampling: number;
    /** Recording rewards, dones and bootstrap targets; the trainer's episode hook. */
    bookkeeping: number;
    /** The learner blocked on env replies. */
    waiting: number;
    /** The env server inside its env steps (Python side; overlaps the learner's work when pipelined). */
    envServer: number;
    /** Sending the actions (encoding, socket send). */
    sending: number;
    /** Waiting beyond the env server's own step time: the bridge round trips, (de)serialisation. */
    bridge: number;
    /** Returns and advantages, the update (one compiled graph run, or eager ops), host reads of the losses. */
    update: number;
  };
  envStepsPerIteration: number;
  /**
   * CPU time per iteration (ms) of the learner (this Node process) and of the local env servers
   * (all their threads; null when not readable: remote servers, no /proc). Unlike the wall-clock
   * parts these hardly move with the machine's load: their sum is the work, and on an idle machine
   * the pipelined loop can overlap the two.
   */
  cpuPerIteration: { learner: number; envServers: number | null };
}

export async function benchRollout(opts: {
  env: string;
  torso: string;
  seconds: number;
  warmup: number;
  numEnvs?: number;
  pipeline?: boolean;
}): Promise<RolloutProfile> {
  let agent: A2C | null = null;
  let times: RolloutTimes = newRolloutTimes();
  const inference = { ms: 0, calls: 0 };
  let pids: number[] = [];
  let cpu0 = { learner: 0, envServers: null as number | null };
  let cpu1 = cpu0;
  const cpuNow = () => ({ learner: learnerCpuMs(), envServers: processesCpuMs(pids) });
  const r = await benchTrain({
    ...opts,
    algo: 'a2c',
    learningStarts: 0,
    onMeasureStart: (a, env) => {
      pids = env.servers.map((s) => s.pid).filter((p): p is number => p !== null);
      cpu0 = cpuNow();
      agent = a as A2C;
      times = newRolloutTimes();
      agent.rolloutTimes = times;
      // Time every forward pass of the policy network (a profiler's wrapper; nothing else changes).
      const net = agent.net;
      const forward = net.forward.bind(net);
      net.forward = (obs, batch) => {
        const t0 = performance.now();
        const out = forward(obs, batch);
        inference.ms += performance.now() - t0;
        inference.calls++;
        return out;
      };
    },
    onMeasureEnd: () => {
      cpu1 = cpuNow();
    },
  });
  const it = Math.max(1, r.updates);
  const total = (r.seconds * 1000) / it;
  const per = (ms: number) => ms / it;
  const rollout = times.act + times.send + times.record + times.wait;
  // Forward passes for truncated episodes' final observations run inside `record`.
  return {
    ...r,
    nSteps: (agent as A2C | null)?.hp.nSteps ?? 0,
    envStepsPerIteration: r.envSteps / it,
    cpuPerIteration: {
      learner: per(cpu1.learner - cpu0.learner),
      envServers: cpu1.envServers === null || cpu0.envServers === null ? null : per(cpu1.envServers - cpu0.envServers),
    },
    perIteration: {
      total,
      inference: per(inference.ms),
      inferenceCalls: inference.calls / it,
      sampling: per(Math.max(0, times.act - inference.ms)),
      bookkeeping: per(times.record),
      sending: per(times.send),
      waiting: per(times.wait),
      envServer: per(times.env),
      bridge: per(Math.max(0, times.wait - times.env)),
      update: Math.max(0, total - per(rollout)),
    },
  };
}

function learnerCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time (user + system, ms) of processes from /proc (Linux); null if one cannot be read. */
function processesCpuMs(pids: number[]): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    // Fields after the command name (which may hold spaces, inside parentheses): utime is the
    // 14th field, stime the 15th, in clock ticks (100 per second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  }
  return total;
}

const CLOCK_TICKS = 100;

export function formatRolloutProfile(p: RolloutProfile): string {
  const q = p.perIteration;
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  const share = (v: number) => `${((100 * v) / q.total).toFixed(0)}%`;
  const rows: [string, number, string][] = [
    ['inference (forward passes)', q.inference, `${q.inferenceCalls.toFixed(1)} calls`],
    ['sampling + obs copy', q.sampling, ''],
    ['bookkeeping (rewards, dones, hooks)', q.bookkeeping, ''],
    ['sending actions (encode, socket send)', q.sending, ''],
    ['waiting for the envs', q.waiting, `${q.envServer.toFixed(3)} ms of it env server stepping, if not hidden`],
    ['update (GAE, graph run, host reads)', q.update, ''],
  ];
  return [
    `a2c on ${p.env} (${p.torso}, ${p.numEnvs} envs x ${p.nSteps} steps, ${p.envGroups} env group(s), ${p.backend}/${p.device}): ${p.envStepsPerSec.toFixed(0)} env steps/s`,
    `one iteration: ${ms(q.total)}`,
    ...rows.map(
      ([name, v, extra]) =>
        `  ${name.padEnd(38)} ${ms(v).padStart(11)} ${share(v).padStart(4)}${extra ? `  (${extra})` : ''}`,
    ),
    `  env server inside its steps (Python)   ${ms(q.envServer).padStart(11)}       (overlaps the rows above when pipelined)`,
    `  bridge beyond the env time (wait - env) ${ms(q.bridge).padStart(10)}`,
    `cpu per iteration: learner ${ms(p.cpuPerIteration.learner)}, env server(s) ${p.cpuPerIteration.envServers === null ? 'n/a' : ms(p.cpuPerIteration.envServers)}`,
  ].join('\n');
}
