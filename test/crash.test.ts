// Surviving crashes, with real processes and real signals: the trainer killed with SIGKILL, the
// env server killed under a running trainer, Ctrl-C, and a loss that turns NaN.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../src/training/metrics.js';

const BIN = path.resolve(__dirname, '..', 'bin', 'coordrl.js');

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

function run(args: string[]): Promise<Finished> {
  return start(args).done;
}

/** Polls (bounded) until `check` holds. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function checkpoints(runDir: string): string[] {
  const dir = path.join(runDir, 'checkpoints');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('step-')) : [];
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cartpole = ['--env', 'CartPole-v1', '--num-envs', '4', '--log-every', '1000', '--no-progress', '--json'];

function newRunDir(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-crash-')), 'run');
}

describe('crashes', () => {
  it('trainer SIGKILL: resume continues from the last complete checkpoint; no orphan env server', async () => {
    const runDir = newRunDir();
    const { child, done } = start([
      'train',
      ...cartpole,
      '--steps',
      '1M',
      '--checkpoint-every',
      '4000',
      '--run-dir',
      runDir,
    ]);
    await waitFor('two checkpoints', () => checkpoints(runDir).length >= 2);
    const servers = childPids(child.pid as number);
    expect(servers.length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    // The env server notices its parent died and exits by itself.
    await waitFor('env server exit', () => servers.every((p) => !alive(p)), 20_000);

    const info = JSON.parse((await run(['info', runDir, '--json'])).stdout);
    expect(info.checkpoints.length).toBeGreaterThanOrEqual(2);
    for (const c of info.checkpoints) expect(c.status).toBe('ok');
    const newest = Math.max(...info.checkpoints.map((c: { step: number }) => c.step));

    const resumed = await run(['resume', runDir, '--steps', String(newest + 4000), '--no-progress', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from checkpoint step-0*${newest}`));
    expect(JSON.parse(resumed.stdout).steps).toBeGreaterThanOrEqual(newest + 4000);
    // One curve: strictly increasing steps, nothing duplicated from the lost tail.
    const steps = readMetrics(path.join(runDir, 'metrics.jsonl')).map((m) => m.step);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
  }, 180_000);

  it('env server SIGKILL: the trainer restarts it, leaves cut episodes out of the scores and goes on', async () => {
    const runDir = newRunDir();
    const { child, done } = start(['train', ...cartpole, '--steps', '30000', '--run-dir', runDir]);
    await waitFor('first metrics', () => readMetrics(path.join(runDir, 'metrics.jsonl')).length >= 2);
    const [server] = childPids(child.pid as number);
    expect(server).toBeGreaterThan(0);
    process.kill(server, 'SIGKILL');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/env server restarted near step \d+: \d+ episode\(s\) cut/);
    const result = JSON.parse(r.stdout);
    expect(result.steps).toBe(30_000);
    const last = readMetrics(path.join(runDir, 'metrics.jsonl')).at(-1);
    expect(last?.envRestarts).toBeGreaterThanOrEqual(1);
    expect(last?.cutEpisodes).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('Ctrl-C (SIGINT) saves a checkpoint, exits 130, and resume continues', async () => {
    const runDir = newRunDir();
    const { child, done } = start([
      'train',
      ...cartpole,
      '--steps',
      '1M',
      '--checkpoint-every',
      '100000',
      '--run-dir',
      runDir,
    ]);
    await waitFor('first metrics', () => readMetrics(path.join(runDir, 'metrics.jsonl')).length >= 2);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/checkpoint saved: step-\d+ \(signal\)/);
    expect(JSON.parse(r.stdout).stopReason).toBe('signal');
    expect(checkpoints(runDir)).toHaveLength(1);
    const step = Number(checkpoints(runDir)[0].slice(5));
    expect(step).toBeGreaterThan(0);
    const resumed = await run(['resume', runDir, '--steps', String(step + 2000), '--no-progress', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 180_000);

  it('a loss that turns NaN stops training with a clear message and keeps the last good checkpoint', async () => {
    const runDir = newRunDir();
    const first = await run(['train', ...cartpole, '--steps', '100k', '--stop-at', '2000', '--run-dir', runDir]);
    expect(first.code, first.stderr).toBe(0);
    const before = checkpoints(runDir);
    expect(before).toHaveLength(1);
    // Make the continuation diverge: an absurd learning rate blows the weights up at once.
    const file = path.join(runDir, 'config.json');
    const run0 = JSON.parse(readFileSync(file, 'utf8'));
    run0.config.lr = 1e30;
    writeFileSync(file, JSON.stringify(run0));
    const r = await run(['resume', runDir, '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/training stopped at step \d+: loss became (NaN|Infinity|-Infinity)/);
    expect(checkpoints(runDir)).toEqual(before);
    const info = JSON.parse((await run(['info', runDir, '--json'])).stdout);
    expect(info.checkpoints[0].status).toBe('ok');
  }, 180_000);
});
