// Slurm and the run lock, on a fake Slurm: a task whose run is held by a live trainer starts
// nothing and exits 2, the status calls the run running (held), a resubmission leaves it alone,
// and a requeued task waits for the heartbeat of a predecessor on another node to stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAb } from '../src/commands/ab.js';
import { createExperiment, readManifest } from '../src/experiments/manifest.js';
import { type Launcher, runExperiment } from '../src/experiments/runner.js';
import { type CommandResult, SlurmClient, type SlurmExec, type SlurmResources } from '../src/experiments/slurm.js';
import { experimentStatus, type SlurmSettings, submitMissing } from '../src/experiments/slurm-executor.js';
import { LOCK_FILE, type LockRecord, processStartTime } from '../src/util/dir-lock.js';
import { runCli } from './helpers/in-process-cli.js';

const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

function fakeSlurm(answers: Record<string, CommandResult>): SlurmClient {
  const exec: SlurmExec = async (cmd) => answers[cmd] ?? { code: 0, stdout: '', stderr: '' };
  return new SlurmClient(exec);
}

const BASE: SlurmResources = { extra: [], signalBefore: 120, requeue: true };
const settings: SlurmSettings = { resources: BASE, node: '/usr/bin/node', bin: '/x/bin/coordrl.js' };

function experiment(): { exp: string; ids: string[]; dirs: string[] } {
  const exp = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-slurm-lock-')), 'exp');
  const m = createExperiment(exp, {
    algo: 'a2c',
    envs: ['CartPole-v1'],
    arms: [
      { name: 'a', fields: { torso: 'mlp' } },
      { name: 'b', fields: { torso: 'mlp', lr: 0.003 } },
    ],
    seeds: [1],
    evalEpisodes: 0,
    base: { steps: 1000 },
  });
  return { exp, ids: m.runs.map((r) => r.id), dirs: m.runs.map((r) => path.join(exp, r.dir)) };
}

function lockRun(runDir: string, rec: LockRecord, ageSeconds = 0): void {
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, LOCK_FILE);
  writeFileSync(file, JSON.stringify(rec));
  const t = new Date(Date.now() - ageSeconds * 1000);
  utimesSync(file, t, t);
}

const sleepers: ChildProcess[] = [];
afterEach(() => {
  for (const s of sleepers.splice(0)) s.kill();
});

/** A live process of this host and its lock record (as a trainer would write it). */
async function liveHolder(): Promise<{ rec: LockRecord; proc: ChildProcess }> {
  const proc = spawn('sleep', ['60']);
  sleepers.push(proc);
  const pid = proc.pid as number;
  for (let i = 0; i < 50 && processStartTime(pid) === null; i++) await new Promise((r) => setTimeout(r, 20));
  return {
    proc,
    rec: {
      pid,
      host: hostname(),
      startedAt: '2026-12-01T00:00:00.000Z',
      procStart: processStartTime(pid),
      command: 'coordrl resume',
      nonce: 'live',
    },
  };
}

function recorder(calls: string[][]): Launcher {
  return (args) => {
    calls.push(args);
    return { done: Promise.resolve({ code: 1, signal: null, stdout: '', stderrTail: ['coordrl: fake'] }), kill() {} };
  };
}

describe('Slurm tasks and the run lock', () => {
  it('a task whose run a live trainer holds starts nothing and exits 2 with the one line', async () => {
    const { exp, ids, dirs } = experiment();
    const { rec } = await liveHolder();
    lockRun(dirs[0], rec);
    await expect(runCli([registerAb], ['ab', '--resume', exp, '--run', ids[0]], { quietStderr: true })).rejects.toThrow(
      new RegExp(`^${dirs[0]} is in use by pid ${rec.pid} on host .* \\(coordrl resume\\); wait for it or stop it$`),
    );
  });

  it('status: a held run is running (held by ...), whatever its latest task said; resubmission leaves it alone', async () => {
    const { exp, ids, dirs } = experiment();
    expect((await submitMissing(exp, settings, fakeSlurm({ sbatch: ok('100\n') }))).runs).toEqual(ids);
    // Task 0 was refused for the lock (exit 2); the trainer holding the run is alive.
    const logs = path.join(exp, 'slurm', 'logs');
    writeFileSync(
      path.join(logs, '100_0.out'),
      `coordrl-slurm: task 100_0 (job 200, restart 0) runs ${ids[0]} on n1 at x\ncoordrl: ${dirs[0]} is in use by pid 1 on host n0 since x (coordrl resume); wait for it or stop it\ncoordrl-slurm: run ${ids[0]} exited with code 2 at y\n`,
    );
    const { rec, proc } = await liveHolder();
    lockRun(dirs[0], rec);
    const noAcct = { code: 1, stdout: '', stderr: 'Slurm accounting storage is disabled' };
    const st = await experimentStatus(exp, fakeSlurm({ squeue: ok(''), sacct: noAcct }));
    expect(st.runs[0]).toMatchObject({
      state: 'running',
      detail: expect.stringMatching(
        new RegExp(`^held by pid ${rec.pid} on host ${hostname()} since .* \\(coordrl resume\\)$`),
      ),
    });
    const again = await submitMissing(exp, settings, fakeSlurm({ squeue: ok(''), sacct: noAcct, sbatch: ok('101\n') }));
    expect(again.runs).toEqual([ids[1]]);
    expect(again.skipped).toEqual([{ id: ids[0], state: 'running' }]);
    // The holder dies: the run is no longer running and goes to Slurm again.
    proc.kill('SIGKILL');
    await new Promise((r) => proc.on('exit', r));
    const st2 = await experimentStatus(exp, fakeSlurm({ squeue: ok('101_0|RUNNING|n2\n'), sacct: noAcct }));
    expect(st2.runs[0].state).not.toBe('running');
    expect(readManifest(exp).runs[0].status).not.toBe('running');
  });

  it("a requeued task waits for a predecessor's heartbeat on another node to stop, then runs", async () => {
    const { exp, ids, dirs } = experiment();
    const foreign: LockRecord = {
      pid: 4242,
      host: 'node-9',
      startedAt: '2026-12-01T00:00:00.000Z',
      procStart: '1',
      command: 'coordrl resume',
      nonce: 'far',
    };
    // Fresh heartbeat, and it keeps beating: held after the wait.
    lockRun(dirs[0], foreign);
    const calls: string[][] = [];
    const logs: string[] = [];
    const beating = setInterval(() => {
      const now = new Date();
      utimesSync(path.join(dirs[0], LOCK_FILE), now, now);
    }, 100);
    try {
      const r = await runExperiment(exp, {
        parallel: 1,
        only: ids[0],
        launcher: recorder(calls),
        statusEvery: 0,
        log: (l) => logs.push(l),
        waitForHeldSeconds: 1,
      });
      expect(r.held).toHaveLength(1);
      expect(calls).toEqual([]);
      expect(logs.join('\n')).toMatch(/held from host node-9; waiting up to 1 s for its heartbeat to stop/);
    } finally {
      clearInterval(beating);
    }
    // A heartbeat older than the stale limit: the task goes on (its trainer takes the lock over).
    lockRun(dirs[0], foreign, 3600);
    const r2 = await runExperiment(exp, {
      parallel: 1,
      only: ids[0],
      launcher: recorder(calls),
      statusEvery: 0,
      log: () => {},
      waitForHeldSeconds: 1,
    });
    expect(r2.held).toEqual([]);
    expect(calls.map((c) => c[0])).toEqual(['train']);
  });
});
