// `coordrl ab --executor slurm` against a real Slurm (the one-node cluster of
// scripts/slurm-local.sh, which this test starts when it runs as root and none answers): a tiny
// CartPole experiment (2 arms x 2 seeds) as one job array of 2 tasks at a time, the compiled
// dist/ on the "nodes" (`npm test` builds it first). Along the way: one run cancelled mid-way
// with scancel, one stopped by the pre-limit signal (SIGUSR1 to the job script, which checkpoints
// and exits; --no-requeue here, as Slurm holds a requeued task for ~2 min: the requeue itself is
// tested in slurm.test.ts); --status --json at each point; then `ab --resume` submits only those
// two runs, which continue from their checkpoints, nothing done is redone, and the report is written.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerAb } from '../src/commands/ab.js';
import { registerReport } from '../src/commands/report.js';
import type { ExperimentSlurmStatus } from '../src/experiments/slurm-executor.js';
import { runCli } from './helpers/in-process-cli.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A cluster that answers, or why there is none. As root, the one-node cluster is started. */
function cluster(): { ok: true } | { ok: false; reason: string } {
  const up = () => spawnSync('sinfo', ['-h', '-o', '%a'], { encoding: 'utf8', timeout: 15_000 }).stdout?.includes('up');
  if (up()) return { ok: true };
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason: 'no Slurm cluster answers (sinfo) and not root to start one (sudo scripts/slurm-local.sh)',
    };
  }
  const r = spawnSync(path.join(ROOT, 'scripts', 'slurm-local.sh'), { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`scripts/slurm-local.sh failed: ${r.stderr || r.stdout}`);
  if (!up()) throw new Error('scripts/slurm-local.sh ran but sinfo shows no partition up');
  return { ok: true };
}

const coordrl = (...args: string[]) => runCli([registerAb, registerReport], args);

const status = async (exp: string) =>
  JSON.parse(await coordrl('ab', '--status', exp, '--json')) as ExperimentSlurmStatus;

async function waitFor<T>(
  what: string,
  seconds: number,
  probe: () => Promise<T | null | undefined | false>,
): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Steps of the checkpoints a run has written. */
function checkpoints(runDir: string): number[] {
  try {
    return readdirSync(path.join(runDir, 'checkpoints'))
      .map((n) => /^step-(\d+)$/.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

describe('coordrl ab --executor slurm (real Slurm, CartPole-v1, 2 arms x 2 seeds)', () => {
  it('runs the array, survives scancel and a pre-limit signal, resumes only what is missing, reports', async (ctx) => {
    const c = cluster();
    if (!c.ok) {
      ctx.skip(c.reason);
      return;
    }
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-ab-slurm-'));
    const arms = path.join(root, 'arms.yaml');
    writeFileSync(
      arms,
      'arms:\n  - {name: lr-low, torso: mlp, lr: 0.0003}\n  - {name: lr-high, torso: mlp, lr: 0.003}\n',
    );
    const exp = path.join(root, 'exp');
    // Large enough that a run is still mid-way when it is cancelled or signalled: with the compiled
    // steps a CartPole A2C run makes 5-20k steps/s here, and 12k steps were over before the signal.
    const budget = 150_000;
    const sub = JSON.parse(
      await coordrl(
        'ab',
        ...['--algo', 'a2c', '--envs', 'CartPole-v1', '--arms-file', arms, '--seeds', '2'],
        ...['--steps', String(budget), '--num-envs', '8', '--log-every', '5000', '--checkpoint-every', '3000'],
        ...['--eval-episodes', '3', '--out', exp, '--executor', 'slurm', '--parallel', '2', '--cpus-per-run', '1'],
        '--no-requeue',
        '--json',
      ),
    );
    expect(sub.runs).toHaveLength(4);
    expect(sub.jobId).toMatch(/^\d+$/);
    const job: string = sub.jobId;
    const ids: string[] = sub.runs;

    // The script: valid bash, and sbatch itself accepts it (--test-only submits nothing).
    execFileSync('bash', ['-n', sub.script]);
    const test = spawnSync('sbatch', ['--test-only', sub.script], { encoding: 'utf8' });
    expect(test.status, test.stderr).toBe(0);
    expect(readFileSync(sub.script, 'utf8')).toContain('#SBATCH --array=0-3%2\n');

    // Right after submission every run is queued or running, under its array task.
    const st0 = await status(exp);
    expect(st0.jobs).toEqual([job]);
    expect(st0.runs.map((r) => r.job)).toEqual(ids.map((_, i) => `${job}_${i}`));
    for (const r of st0.runs) expect(['pending', 'running']).toContain(r.state);

    // Mid-way: task 0 cancelled, task 1 signalled as before a time limit.
    const runDir = (i: number) => path.join(exp, 'runs', ...ids[i].split('/'));
    await waitFor('tasks 0 and 1 to write a checkpoint', 90, async () =>
      [0, 1].every((i) => checkpoints(runDir(i)).some((s) => s > 0 && s < budget)),
    );
    const running = await status(exp);
    expect(running.runs.slice(0, 2).map((r) => r.state)).toEqual(['running', 'running']);
    execFileSync('scancel', [`${job}_0`]);
    // scancel may answer "Job can not be altered now" for a signal it did deliver: the log below says.
    spawnSync('scancel', ['--batch', '--signal=USR1', `${job}_1`]);

    const st1 = await waitFor('tasks 0 and 1 to end, cancelled and stopped', 60, async () => {
      const s = await status(exp);
      return s.runs[0].state === 'cancelled' && s.runs[1].state === 'stopped' ? s : null;
    });
    expect(st1.runs[0]).toMatchObject({ slurmState: 'CANCELLED', job: `${job}_0` });
    expect(st1.runs[0].steps).toBeLessThan(budget);
    expect(st1.runs[1].steps).toBeLessThan(budget);
    const log1 = readFileSync(path.join(exp, 'slurm', 'logs', `${job}_1.out`), 'utf8');
    expect(log1).toMatch(/checkpoint saved: step-\d+ \(signal\)/);
    expect(log1).toContain('exited with code 130 after SIGUSR1');
    expect(log1).not.toContain('requeueing');
    const stoppedAt = Math.max(...checkpoints(runDir(1)));
    expect(stoppedAt).toBe(st1.runs[1].steps);

    const st2 = await waitFor('every task of the first array to leave the queue', 150, async () => {
      const s = await status(exp);
      return s.counts.pending + s.counts.running === 0 ? s : null;
    });
    expect(st2.runs.map((r) => r.state)).toEqual(['cancelled', 'stopped', 'done', 'done']);
    expect(st2.source).toBe('job output files'); // this cluster has no accounting storage
    const finals = (i: number) => path.join(runDir(i), 'final.json');
    const before = [2, 3].map((i) => statSync(finals(i)).mtimeMs);

    // Resume: only those two runs go to Slurm again, and they continue from their checkpoints.
    const cancelledAt = Math.max(...checkpoints(runDir(0)));
    expect(cancelledAt).toBeGreaterThan(0);
    const again = JSON.parse(await coordrl('ab', '--resume', exp, '--json'));
    expect(again.runs).toEqual([ids[0], ids[1]]);
    expect(again.skipped.map((s: { state: string }) => s.state)).toEqual(['done', 'done']);
    const job2: string = again.jobId;
    const st3 = await status(exp);
    expect(st3.runs.slice(0, 2).map((r) => r.job)).toEqual([`${job2}_0`, `${job2}_1`]);
    for (const r of st3.runs.slice(0, 2)) expect(['pending', 'running']).toContain(r.state);

    const st4 = await waitFor('the resubmitted run to finish', 120, async () => {
      const s = await status(exp);
      return s.counts.pending + s.counts.running === 0 ? s : null;
    });
    expect(st4.runs.map((r) => r.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(st4.counts.done).toBe(4);
    for (const r of st4.runs) expect(r).toMatchObject({ steps: budget, budgetSteps: budget });
    for (const [task, at] of [cancelledAt, stoppedAt].entries()) {
      const log = readFileSync(path.join(exp, 'slurm', 'logs', `${job2}_${task}.out`), 'utf8');
      expect(log).toContain(`resuming from checkpoint step-${String(at).padStart(9, '0')}`);
    }
    expect([2, 3].map((i) => statSync(finals(i)).mtimeMs)).toEqual(before);

    // Nothing left: resume submits nothing, cancel finds nothing, the report covers all runs.
    const last = JSON.parse(await coordrl('ab', '--resume', exp, '--json'));
    expect(last).toMatchObject({ jobId: null, runs: [] });
    expect(last.report.html).toBe(path.join(exp, 'report.html')); // written, as the local executor does at the end
    expect(JSON.parse(await coordrl('ab', '--cancel', exp, '--json'))).toMatchObject({ cancelled: [] });
    const summary = JSON.parse(await coordrl('report', exp, '--reps', '200', '--no-png', '--json'));
    expect(summary.games[0].arms.map((a: { n: number }) => a.n)).toEqual([2, 2]);
    expect(statSync(summary.files.html).size).toBeGreaterThan(1000);
  }, 420_000);
});
