// A dead or hung env server is replaced and the caller is told which episodes were cut; no Python
// process outlives its learner.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { bridgeDir, defaultPython, liveChildren, makeVecEnv, managedServerArgs } from '../envs/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

const seen: number[] = [];
afterEach(async () => {
  for (const pid of seen.splice(0)) expect(await waitGone(pid, 5000)).toBe(true);
  expect(liveChildren()).toBe(0);
});

describe('server restarts', () => {
  test('SIGKILL: the next step reports cut episodes, then stepping goes on', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 4, groups: 2 });
    try {
      const pid = env.servers[0].pid!;
      seen.push(pid);
      await env.reset(5);
      const a = new Int32Array(4);
      for (let t = 0; t < 5; t++) expect((await env.step(a)).restarted).toBe(false);
      process.kill(pid, 'SIGKILL');
      const r = await env.step(a);
      expect(r.restarted).toBe(true);
      expect(r.cutEpisodes).toEqual([0, 1, 2, 3]);
      expect(Array.from(r.truncated)).toEqual([1, 1, 1, 1]);
      expect(Array.from(r.rewards)).toEqual([0, 0, 0, 0]);
      expect(r.episodes).toEqual([]);
      expect(r.obs.length).toBe(16);
      expect(env.serverRestarts).toBe(1);
      expect(env.restarts).toBe(2); // both groups were re-created
      const newPid = env.servers[0].pid!;
      expect(newPid).not.toBe(pid);
      seen.push(newPid);
      expect(alive(pid)).toBe(false);
      for (let t = 0; t < 5; t++) {
        const s = await env.step(a);
        expect(s.restarted).toBe(false);
        expect(s.cutEpisodes).toEqual([]);
      }
    } finally {
      await env.close();
    }
  });

  test('only the slots of the failed server are cut when envs span two servers', async () => {
    const env = await makeVecEnv({ env: 'pong', numEnvs: 4, groups: 2, servers: 2 });
    try {
      expect(env.servers.length).toBe(2);
      const pids = env.servers.map((s) => s.pid!);
      seen.push(...pids);
      expect(pids[0]).not.toBe(pids[1]);
      await env.reset(1);
      const a = new Int32Array(4);
      await env.step(a);
      process.kill(pids[1], 'SIGKILL');
      const r = await env.step(a);
      expect(r.restarted).toBe(true);
      expect(r.cutEpisodes).toEqual([2, 3]);
      expect(Array.from(r.truncated.subarray(2))).toEqual([1, 1]);
      expect(env.servers[0].restarts).toBe(0);
      expect(env.servers[1].restarts).toBe(1);
      seen.push(env.servers[1].pid!);
      expect((await env.step(a)).restarted).toBe(false);
    } finally {
      await env.close();
    }
  });

  test('a hung server (SIGSTOP) times out, is killed and replaced', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 2, requestTimeoutMs: 3000 });
    try {
      seen.push(env.servers[0].pid!);
      await env.reset(0);
      const pid = env.servers[0].pid!; // after reset: a very slow machine may already have restarted it
      seen.push(pid);
      process.kill(pid, 'SIGSTOP');
      const r = await env.step(new Int32Array(2));
      expect(r.restarted).toBe(true);
      expect(r.cutEpisodes).toEqual([0, 1]);
      expect(await waitGone(pid)).toBe(true);
      seen.push(env.servers[0].pid!);
      expect((await env.step(new Int32Array(2))).restarted).toBe(false);
    } finally {
      await env.close();
    }
  });

  test('restarts are bounded', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 1, maxRestarts: 1 });
    try {
      await env.reset(0);
      seen.push(env.servers[0].pid!);
      process.kill(env.servers[0].pid!, 'SIGKILL');
      expect((await env.step(new Int32Array(1))).restarted).toBe(true);
      seen.push(env.servers[0].pid!);
      process.kill(env.servers[0].pid!, 'SIGKILL');
      await expect(env.step(new Int32Array(1))).rejects.toThrow(/gave up after 1 restarts/);
    } finally {
      await env.close();
    }
  });
});

describe('no orphans', () => {
  test('close() stops the server process', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 2, servers: 2 });
    const pids = env.servers.map((s) => s.pid!);
    await env.reset(0);
    await env.close();
    for (const pid of pids) expect(alive(pid)).toBe(false); // close() waits for the exit
    expect(liveChildren()).toBe(0);
  });

  test('the server exits when its learner is SIGKILLed', async () => {
    // A stand-in learner that starts the server exactly as spawnServer does, then dies hard.
    const script = `
      const { spawn } = require('node:child_process');
      const c = spawn(${JSON.stringify(defaultPython())}, ${JSON.stringify(managedServerArgs({}, 0))}.map((a, i, all) =>
        all[i - 1] === '--parent-pid' ? String(process.pid) : a), { cwd: ${JSON.stringify(bridgeDir())}, stdio: ['pipe', 'pipe', 'inherit'] });
      c.stdout.once('data', () => { process.stdout.write(String(c.pid) + '\\n'); });
      setInterval(() => {}, 1000);
    `;
    const learner = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const serverPid = await new Promise<number>((resolve) =>
      learner.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    expect(alive(serverPid)).toBe(true);
    learner.kill('SIGKILL');
    expect(await waitGone(serverPid)).toBe(true);
  });
});
