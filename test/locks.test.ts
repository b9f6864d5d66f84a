// Locks on runs and experiments with real processes (the compiled CLI, dist/): two resumes of
// one run at once, two `ab --resume` of one experiment at once, a run held by a live process
// left alone by the runner, and a SIGKILLed `coordrl ab` whose trainers stop with it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createExperiment, readManifest } from '../src/experiments/manifest.js';
import { type Launcher, runExperiment } from '../src/experiments/runner.js';
import { readMetrics } from '../src/training/metrics.js';
import { LOCK_FILE, processStartTime } from '../src/util/dir-lock.js';

const BIN = path.resolve(__dirname, '..', 'bin', 'coordrl.js');

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
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

async function waitFor(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function descendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return [...kids, ...kids.flatMap(descendants)];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-locks-'));
}

const LOCK_LINE = / is in use by pid \d+ on host \S+ since \S+ \(coordrl (resume|train|ab)\); wait for it or stop it$/;

function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l && !/absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow/.test(l));
}

describe('run and experiment locks', () => {
  it('two `coordrl resume RUN` at once: one trains, the other exits 2 with one line; one clean curve', async () => {
    const runDir = path.join(tmp(), 'R');
    const first = await start([
      'train',
      ...['--algo', 'dqn', '--env', 'CartPole-v1', '--steps', '20000', '--checkpoint-every', '1000'],
      ...['--learning-starts', '1000', '--stop-at', '3000', '--run-dir', runDir, '--no-progress'],
    ]).done;
    expect(first.code, first.stderr).toBe(0);
    const a = start(['resume', runDir, '--stop-at', '9000', '--no-progress']);
    const b = start(['resume', runDir, '--stop-at', '9000', '--no-progress']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const codes = [ra.code, rb.code].sort();
    expect(codes, `${ra.stderr}\n---\n${rb.stderr}`).toEqual([0, 2]);
    const loser = ra.code === 2 ? ra : rb;
    expect(errorLines(loser.stderr)).toHaveLength(1);
    expect(errorLines(loser.stderr)[0]).toMatch(new RegExp(`^coordrl: ${runDir}${LOCK_LINE.source}`));
    expect(loser.stdout).toBe('');
    const steps = readMetrics(path.join(runDir, 'metrics.jsonl')).map((m) => m.step);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
    expect(steps.at(-1)).toBeGreaterThanOrEqual(8000);
    // Released at exit: nothing of the lock is left.
    expect(readdirSync(runDir).filter((n) => n.startsWith(LOCK_FILE))).toEqual([]);
  }, 240_000);

  it('the runner leaves a run that a live process holds alone (and says who holds it)', async () => {
    const exp = path.join(tmp(), 'exp');
    createExperiment(exp, {
      algo: 'a2c',
      envs: ['CartPole-v1'],
      arms: [
        { name: 'a', fields: { torso: 'mlp' } },
        { name: 'b', fields: { torso: 'mlp', lr: 0.001 } },
      ],
      seeds: [1],
      evalEpisodes: 0,
      base: { steps: 1000 },
    });
    const m = readManifest(exp);
    const heldRun = m.runs[0];
    // A live holder: a sleeping process of this host, with its real start time.
    const sleeper = spawn('sleep', ['60']);
    try {
      const pid = sleeper.pid as number;
      await waitFor('sleep started', () => processStartTime(pid) !== null, 5000);
      const runDir = path.join(exp, heldRun.dir);
      execFileSync('mkdir', ['-p', runDir]);
      writeFileSync(
        path.join(runDir, LOCK_FILE),
        JSON.stringify({
          pid,
          host: hostname(),
          startedAt: '2026-12-01T00:00:00.000Z',
          procStart: processStartTime(pid),
          command: 'coordrl resume',
          nonce: 'x',
        }),
      );
      const calls: string[][] = [];
      const launcher: Launcher = (args) => {
        calls.push(args);
        return {
          done: Promise.resolve({ code: 1, signal: null, stdout: '', stderrTail: ['coordrl: fake'] }),
          kill() {},
        };
      };
      const logs: string[] = [];
      const r = await runExperiment(exp, { parallel: 1, launcher, statusEvery: 0, log: (l) => logs.push(l) });
      expect(r.held).toEqual([{ id: heldRun.id, message: expect.stringMatching(LOCK_LINE) }]);
      expect(calls.some((c) => c.includes(runDir))).toBe(false);
      expect(calls).toHaveLength(1); // the other run only
      expect(logs.join('\n')).toMatch(new RegExp(`${heldRun.id}: left alone: .* is in use by pid ${pid}`));
    } finally {
      sleeper.kill();
    }
  });

  it('a SIGKILLed `coordrl ab`: its trainers stop within a bounded time; two `ab --resume` at once: one runs', async () => {
    const root = tmp();
    const exp = path.join(root, 'exp');
    const arms = path.join(root, 'arms.yaml');
    writeFileSync(arms, 'arms:\n  - {name: a, torso: mlp}\n  - {name: b, torso: mlp, lr: 0.001}\n');
    const ab = start([
      'ab',
      ...['--algo', 'a2c', '--envs', 'CartPole-v1', '--arms-file', arms, '--seeds', '1'],
      ...['--steps', '2M', '--num-envs', '4', '--log-every', '500', '--checkpoint-every', '2000'],
      ...['--eval-episodes', '0', '--parallel', '2', '--status-every', '0', '--no-report', '--out', exp],
    ]);
    const runDirs = ['a', 'b'].map((arm) => path.join(exp, 'runs', 'CartPole-v1', arm, 'seed-1'));
    await waitFor('both trainers writing metrics', () =>
      runDirs.every((d) => readMetrics(path.join(d, 'metrics.jsonl')).length >= 2),
    );
    const family = descendants(ab.child.pid as number);
    // Whatever happens below, no process of this test outlives it.
    const cleanup = () => {
      for (const p of family) if (alive(p)) process.kill(p, 'SIGKILL');
    };
    onTestFinished(cleanup);
    expect(family.length).toBeGreaterThanOrEqual(2); // two trainers (and their env servers)
    ab.child.kill('SIGKILL');
    expect((await ab.done).signal).toBe('SIGKILL');
    await waitFor('every child of the killed ab to exit', () => family.every((p) => !alive(p)), 60_000);
    // They stopped as on SIGTERM, saving a checkpoint, and released their run locks.
    for (const d of runDirs) expect(existsSync(path.join(d, LOCK_FILE))).toBe(false);
    const stepsBefore = runDirs.map((d) => readMetrics(path.join(d, 'metrics.jsonl')).at(-1)?.step ?? 0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(runDirs.map((d) => readMetrics(path.join(d, 'metrics.jsonl')).at(-1)?.step ?? 0)).toEqual(stepsBefore);

    // The killed ab's experiment lock is stale: a resume takes it over; a second resume at once is refused.
    const first = start(['ab', '--resume', exp, '--status-every', '0', '--no-report', '--parallel', '2']);
    onTestFinished(() => {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    });
    const holder = () => {
      try {
        return JSON.parse(readFileSync(path.join(exp, LOCK_FILE), 'utf8')).pid;
      } catch {
        return null;
      }
    };
    await waitFor('the first resume to take the experiment lock', () => holder() === first.child.pid);
    const second = await start(['ab', '--resume', exp, '--status-every', '0', '--no-report']).done;
    expect(second.code).toBe(2);
    expect(errorLines(second.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^coordrl: ${exp}${LOCK_LINE.source}`)),
    ]);
    first.child.kill('SIGTERM');
    const f = await first.done;
    expect(f.stderr).toMatch(/took over the lock of pid \d+ .*\(coordrl ab\): pid \d+ is not running/);
    expect(f.code).toBe(130);
  }, 300_000);
});
