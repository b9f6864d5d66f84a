// The Slurm executor without a cluster: resource flags -> sbatch options, the job array script
// (valid bash, documented sbatch options only, the right command per task even for odd paths),
// squeue/sacct/job-output parsing for every job state, the commands' one-line errors, and the
// merged run states of an experiment with a fake Slurm (sacct on and off).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { registerAb } from '../src/commands/ab.js';
import { createExperiment, FINAL_FILE, readManifest } from '../src/experiments/manifest.js';
import { type Launcher, runExperiment } from '../src/experiments/runner.js';
import {
  type CommandResult,
  type JobScriptSpec,
  jobScript,
  parseJobLog,
  parseSacct,
  parseSqueue,
  SlurmClient,
  type SlurmExec,
  type SlurmResources,
  sbatchOptions,
  slurmPhase,
  timeLimitSeconds,
  validateResources,
} from '../src/experiments/slurm.js';
import {
  experimentStatus,
  jobsPath,
  readJobs,
  type SlurmSettings,
  submitMissing,
  taskStateSaver,
} from '../src/experiments/slurm-executor.js';
import { UsageError, UserFacingError } from '../src/util/cli-errors.js';
import { runCli } from './helpers/in-process-cli.js';

const BASE: SlurmResources = { extra: [], signalBefore: 120, requeue: true };

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-slurm-'));
}

/** Options documented in `man sbatch` (Slurm 22.05) that the script may use. */
const DOCUMENTED = new Set([
  'job-name',
  'array',
  'output',
  'open-mode',
  'partition',
  'account',
  'qos',
  'time',
  'cpus-per-task',
  'mem',
  'gres',
  'signal',
  'requeue',
  'no-requeue',
  'constraint',
]);

/** The long options of the installed sbatch man page, when there is one. */
function manPageOptions(): Set<string> | null {
  const man = '/usr/share/man/man1/sbatch.1.gz';
  if (!existsSync(man)) return null;
  const text = gunzipSync(readFileSync(man)).toString('utf8');
  return new Set([...text.matchAll(/\\fB\\-\\-((?:[a-z]|\\-)+)/g)].map((m) => m[1].replace(/\\-/g, '-')));
}

function spec(over: Partial<JobScriptSpec> = {}): JobScriptSpec {
  return {
    expDir: '/data/exp',
    runs: ['pong/conv/seed-1', 'pong/coordconv/seed-1', 'pong/conv/seed-2'],
    jobName: 'coordrl-exp',
    output: '/data/exp/slurm/logs/%A_%a.out',
    resources: BASE,
    scriptPath: '/data/exp/slurm/job-1.sh',
    node: '/usr/bin/node',
    bin: '/opt/coordrl/bin/coordrl.js',
    createdAt: '2026-12-01T00:00:00Z',
    ...over,
  };
}

describe('resource flags -> sbatch options', () => {
  it('maps every flag, in order, with the pre-limit signal and requeue', () => {
    const r: SlurmResources = {
      partition: 'gpu',
      account: 'rl-lab',
      qos: 'high',
      time: '12:00:00',
      cpusPerRun: 8,
      mem: '32G',
      gpusPerRun: 'a100:1',
      extra: ['--constraint=a100', '--exclusive'],
      signalBefore: 300,
      requeue: true,
    };
    expect(sbatchOptions(validateResources(r))).toEqual([
      '--partition=gpu',
      '--account=rl-lab',
      '--qos=high',
      '--time=12:00:00',
      '--cpus-per-task=8',
      '--mem=32G',
      '--gres=gpu:a100:1',
      '--signal=B:USR1@300',
      '--requeue',
      '--constraint=a100',
      '--exclusive',
    ]);
    expect(sbatchOptions({ ...BASE, requeue: false, gpusPerRun: '2' })).toEqual([
      '--gres=gpu:2',
      '--signal=B:USR1@120',
      '--no-requeue',
    ]);
  });

  it('refuses values that are not Slurm values, or that would break the script', () => {
    const bad: [Partial<SlurmResources>, RegExp][] = [
      [{ time: '4 hours' }, /--time '4 hours' is not a Slurm time limit/],
      [{ mem: '16 GB' }, /--mem '16 GB' is not a Slurm memory size/],
      [{ gpusPerRun: '0' }, /--gpus-per-run '0' must be a count/],
      [{ partition: 'gpu\n#SBATCH --uid=0' }, /--partition .* is not a Slurm name/s],
      [{ account: "x'y" }, /--account .* is not a Slurm name/],
      [{ extra: ['--constraint=a\nrm -rf /'] }, /--sbatch .* must be one sbatch option/s],
      [{ extra: ['constraint=a100'] }, /--sbatch 'constraint=a100' must be one sbatch option/],
      [{ time: '2', signalBefore: 120 }, /--signal-before 120 s is not shorter than --time 2/],
      [{ signalBefore: 70000 }, /--signal-before must be 1-65535 seconds/],
    ];
    for (const [r, msg] of bad) {
      expect(() => validateResources({ ...BASE, ...r })).toThrow(UsageError);
      expect(() => validateResources({ ...BASE, ...r })).toThrow(msg);
    }
  });

  it('reads every sbatch time format', () => {
    expect(timeLimitSeconds('90')).toBe(5400);
    expect(timeLimitSeconds('10:30')).toBe(630);
    expect(timeLimitSeconds('4:00:00')).toBe(14400);
    expect(timeLimitSeconds('1-12')).toBe(129600);
    expect(timeLimitSeconds('1-00:30')).toBe(88200);
    expect(timeLimitSeconds('2-01:00:05')).toBe(176405);
  });
});

describe('the job array script', () => {
  it('is valid bash, lists one command per task, and uses only documented sbatch options', () => {
    const dir = tmp();
    const text = jobScript(
      spec({
        maxRunning: 2,
        resources: { ...BASE, partition: 'gpu', time: '1-00:00:00', extra: ['--constraint=a100'] },
      }),
    );
    const file = path.join(dir, 'job.sh');
    writeFileSync(file, text);
    execFileSync('bash', ['-n', file]);
    expect(text.startsWith('#!/bin/bash\n')).toBe(true);
    expect(text).toContain('#SBATCH --array=0-2%2\n');
    expect(text).toContain("#   task 1: coordrl ab --resume '/data/exp' --run 'pong/coordconv/seed-1'");
    const used = [...text.matchAll(/^#SBATCH --([a-z-]+)/gm)].map((m) => m[1]);
    expect(used).toContain('signal');
    const man = manPageOptions();
    for (const o of used) {
      expect(DOCUMENTED.has(o), `--${o} is not in the documented list`).toBe(true);
      if (man) expect(man.has(o), `--${o} is not in man sbatch`).toBe(true);
    }
    // Every #SBATCH line comes before the first command (sbatch stops reading them there).
    const lines = text.split('\n');
    const firstCommand = lines.findIndex((l) => l.trim() && !l.startsWith('#'));
    expect(lines.slice(firstCommand).some((l) => l.startsWith('#SBATCH'))).toBe(false);
  });

  it('double-quotes an output path with spaces (sbatch reads quoted #SBATCH values)', () => {
    expect(jobScript(spec({ output: '/data/my exp/slurm/logs/%A_%a.out' }))).toContain(
      '#SBATCH --output="/data/my exp/slurm/logs/%A_%a.out"\n',
    );
    expect(jobScript(spec())).toContain('#SBATCH --output=/data/exp/slurm/logs/%A_%a.out\n');
  });

  it("runs the task's own run, quoting paths with spaces and quotes", () => {
    const dir = tmp();
    const exp = path.join(dir, "my exp's");
    const runs = ['cartpole-v1/lr-low/seed-1', 'cartpole-v1/lr-high/seed-1'];
    const file = path.join(dir, 'job.sh');
    writeFileSync(file, jobScript(spec({ expDir: exp, runs, node: '/bin/echo', bin: "/opt/it's/coordrl.js" })));
    const out = execFileSync('bash', [file], {
      env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_JOB_ID: '77', SLURM_JOB_ID: '78' },
      encoding: 'utf8',
    });
    expect(out).toContain('coordrl-slurm: task 77_1 (job 78, restart 0) runs cartpole-v1/lr-high/seed-1');
    expect(out).toContain(
      `/opt/it's/coordrl.js ab --resume ${exp} --run cartpole-v1/lr-high/seed-1 --status-every 300\n`,
    );
    expect(out).toMatch(/coordrl-slurm: run cartpole-v1\/lr-high\/seed-1 exited with code 0/);
    // COORDRL_NODE / COORDRL_BIN point the tasks at another installation.
    const other = execFileSync('bash', [file], {
      env: {
        PATH: process.env.PATH,
        SLURM_ARRAY_TASK_ID: '0',
        COORDRL_NODE: '/bin/echo',
        COORDRL_BIN: '/elsewhere/c.js',
      },
      encoding: 'utf8',
    });
    expect(other).toContain('/elsewhere/c.js ab --resume');
    // Outside Slurm, or for a task it has no run for, it says so and exits 2.
    for (const env of [{}, { SLURM_ARRAY_TASK_ID: '5' }]) {
      let code = 0;
      try {
        execFileSync('bash', [file], { env: { PATH: process.env.PATH, ...env }, stdio: 'pipe' });
      } catch (e) {
        code = (e as { status: number }).status;
      }
      expect(code).not.toBe(0);
    }
  });

  it('passes the pre-limit SIGUSR1 on as SIGTERM and requeues the task when the run stopped (exit 130)', () => {
    const dir = tmp();
    // A stand-in for coordrl: waits for SIGTERM, then exits 130 as a signalled run does.
    const fake = path.join(dir, 'fake.sh');
    writeFileSync(fake, "#!/bin/bash\ntrap 'echo got-TERM; exit 130' TERM\necho started\nsleep 20 & wait $!\n");
    const scontrol = path.join(dir, 'scontrol');
    writeFileSync(scontrol, `#!/bin/bash\necho "scontrol $*"\n`);
    execFileSync('chmod', ['+x', fake, scontrol]);
    const file = path.join(dir, 'job.sh');
    writeFileSync(file, jobScript(spec({ node: '/bin/bash', bin: fake })));
    // The script in the background, USR1 once the fake has started: as Slurm does near the limit.
    const out = execFileSync(
      'bash',
      [
        '-c',
        `bash ${file} > ${dir}/out 2>&1 & p=$!; for i in $(seq 100); do grep -q started ${dir}/out && break; sleep 0.1; done; kill -USR1 $p; wait $p; echo "exit $?"; cat ${dir}/out`,
      ],
      {
        env: {
          PATH: `${dir}:${process.env.PATH}`,
          SLURM_ARRAY_TASK_ID: '2',
          SLURM_ARRAY_JOB_ID: '9',
          SLURM_JOB_ID: '12',
        },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(out).toContain('exit 130');
    expect(out).toContain('got-TERM');
    expect(out).toContain('exited with code 130 after SIGUSR1');
    expect(out).toContain('scontrol requeue 9_2');
    // With --no-requeue it only stops.
    writeFileSync(file, jobScript(spec({ node: '/bin/bash', bin: fake, resources: { ...BASE, requeue: false } })));
    const out2 = execFileSync(
      'bash',
      [
        '-c',
        `bash ${file} > ${dir}/out2 2>&1 & p=$!; for i in $(seq 100); do grep -q started ${dir}/out2 && break; sleep 0.1; done; kill -USR1 $p; wait $p; cat ${dir}/out2`,
      ],
      {
        env: { PATH: `${dir}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_JOB_ID: '9' },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(out2).toContain('after SIGUSR1');
    expect(out2).not.toContain('scontrol requeue');
  });
});

describe('Slurm states', () => {
  it('maps every job state to a run phase', () => {
    const cases: [string, string][] = [
      ['PENDING', 'pending'],
      ['REQUEUED', 'pending'],
      ['REQUEUE_HOLD', 'pending'],
      ['CONFIGURING', 'pending'],
      ['SUSPENDED', 'pending'],
      ['RUNNING', 'running'],
      ['COMPLETING', 'running'],
      ['COMPLETED', 'completed'],
      ['FAILED', 'failed'],
      ['OUT_OF_MEMORY', 'failed'],
      ['NODE_FAIL', 'failed'],
      ['BOOT_FAIL', 'failed'],
      ['CANCELLED', 'cancelled'],
      ['CANCELLED by 1000', 'cancelled'],
      ['CANCELLED+', 'cancelled'],
      ['TIMEOUT', 'stopped'],
      ['PREEMPTED', 'stopped'],
      ['DEADLINE', 'stopped'],
    ];
    for (const [s, phase] of cases) expect(slurmPhase(s), s).toBe(phase);
  });

  it('parses squeue -r output, expanding pending array ranges and ignoring other jobs', () => {
    const text = [
      '12_0|RUNNING|node07',
      '12_1|RUNNING|node08',
      '12_[2-4,7%2]|PENDING|(JobArrayTaskLimit)',
      '13|PENDING|(Priority)',
      '14_3|REQUEUED|(BeginTime)',
      '',
    ].join('\n');
    const t = parseSqueue(text);
    expect(t.map((x) => x.id)).toEqual(['12_0', '12_1', '12_2', '12_3', '12_4', '12_7', '14_3']);
    expect(t[0]).toMatchObject({ arrayJobId: '12', task: 0, state: 'RUNNING', phase: 'running', detail: 'node07' });
    expect(t[2]).toMatchObject({ phase: 'pending', detail: '(JobArrayTaskLimit)' });
    expect(t[6]).toMatchObject({ phase: 'pending' });
  });

  it('parses sacct -P output, skipping job steps', () => {
    const text = [
      '20_0|COMPLETED|0:0',
      '20_0.batch|COMPLETED|0:0',
      '20_1|CANCELLED by 0|0:15',
      '20_2|TIMEOUT|0:0',
      '20_3|OUT_OF_MEMORY|0:125',
      '20_4|PREEMPTED|0:15',
      '20_5|FAILED|1:0',
      '20_6|NODE_FAIL|0:0',
      '20_7|RUNNING|0:0',
      '20_[8-9]|PENDING|0:0',
    ].join('\n');
    const t = parseSacct(text);
    expect(t.map((x) => [x.id, x.state, x.phase])).toEqual([
      ['20_0', 'COMPLETED', 'completed'],
      ['20_1', 'CANCELLED', 'cancelled'],
      ['20_2', 'TIMEOUT', 'stopped'],
      ['20_3', 'OUT_OF_MEMORY', 'failed'],
      ['20_4', 'PREEMPTED', 'stopped'],
      ['20_5', 'FAILED', 'failed'],
      ['20_6', 'NODE_FAIL', 'failed'],
      ['20_7', 'RUNNING', 'running'],
      ['20_8', 'PENDING', 'pending'],
      ['20_9', 'PENDING', 'pending'],
    ]);
    expect(t[4].detail).toBe('0:15');
  });

  it("reads a task's end from its output file when accounting is off", () => {
    const start = 'coordrl-slurm: task 5_1 (job 7, restart 0) runs pong/conv/seed-1 on n1 at 2026-12-01T00:00:00Z';
    const exit = (c: number) => `coordrl-slurm: run pong/conv/seed-1 exited with code ${c} at 2026-12-01T01:00:00Z`;
    const stepd = (why: string) => `slurmstepd-n1: error: *** JOB 7 ON n1 CANCELLED AT 2026-12-01T00:30:00${why} ***`;
    expect(parseJobLog('')).toBeNull();
    expect(parseJobLog(`${start}\n`)).toBeNull();
    expect(parseJobLog(`${start}\n${exit(0)}\n`)).toEqual({ state: 'COMPLETED', exitCode: 0 });
    expect(parseJobLog(`${start}\n${exit(1)}\n`)).toEqual({ state: 'FAILED', exitCode: 1 });
    expect(parseJobLog(`${start}\n${stepd('')}\n${exit(130)}\n`)).toEqual({ state: 'CANCELLED', exitCode: 130 });
    expect(parseJobLog(`${start}\n${stepd(' DUE TO TIME LIMIT')}\n`)).toEqual({ state: 'TIMEOUT', exitCode: null });
    expect(parseJobLog(`${start}\n${stepd(' DUE TO PREEMPTION')}\n`)?.state).toBe('PREEMPTED');
    expect(parseJobLog(`${start}\n${stepd(' DUE TO NODE FAILURE')}\n`)?.state).toBe('NODE_FAIL');
    expect(parseJobLog(`${start}\n${stepd(' DUE TO JOB REQUEUE')}\n`)?.state).toBe('REQUEUED');
    // Requeued: the task starts again and only its new life counts.
    expect(parseJobLog(`${start}\n${stepd(' DUE TO PREEMPTION')}\n${start}\n`)).toBeNull();
    expect(parseJobLog(`${start}\n${exit(130)}\n${start}\n${exit(0)}\n`)).toEqual({ state: 'COMPLETED', exitCode: 0 });
  });
});

/** A fake Slurm: canned answers per command, and a record of the calls. */
function fakeSlurm(answers: Record<string, CommandResult | Error | ((args: string[]) => CommandResult)>) {
  const calls: { cmd: string; args: string[] }[] = [];
  const exec: SlurmExec = async (cmd, args) => {
    calls.push({ cmd, args });
    const a = answers[cmd];
    if (a === undefined) return { code: 0, stdout: '', stderr: '' };
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a(args) : a;
  };
  return { client: new SlurmClient(exec), calls };
}

const enoent = () => Object.assign(new Error('spawn sbatch ENOENT'), { code: 'ENOENT' });
const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('the Slurm commands', () => {
  it('says plainly when Slurm is missing, and shows sbatch its own message when it refuses', async () => {
    await expect(fakeSlurm({ sbatch: enoent() }).client.check()).rejects.toThrow(
      /^Slurm's sbatch is not on the PATH: run this on a Slurm submit host \(or use --executor local/,
    );
    const refused = fakeSlurm({
      sbatch: {
        code: 1,
        stdout: '',
        stderr:
          'sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n',
      },
    });
    const err = await refused.client.sbatch('/x/job-1.sh').catch((e: Error) => e);
    expect(err).toBeInstanceOf(UserFacingError);
    expect((err as Error).message).toBe(
      'sbatch rejected /x/job-1.sh: invalid partition specified: nope; Batch job submission failed: Invalid partition name specified',
    );
    expect(await fakeSlurm({ sbatch: ok('4242;cluster\n') }).client.sbatch('/x/job.sh')).toBe('4242');
  });

  it('treats "accounting storage is disabled" as no accounting', async () => {
    const off = fakeSlurm({ sacct: { code: 1, stdout: '', stderr: 'Slurm accounting storage is disabled\n' } });
    expect(await off.client.sacct(['5'])).toBeNull();
    const on = fakeSlurm({ sacct: ok('5_0|TIMEOUT|0:0\n') });
    expect((await on.client.sacct(['5']))?.[0]).toMatchObject({ id: '5_0', phase: 'stopped' });
    expect(on.calls[0].args).toEqual(['-n', '-P', '-X', '-j', '5', '--format=JobID,State,ExitCode']);
  });
});

describe('an experiment on a fake Slurm', () => {
  const settings: SlurmSettings = { resources: BASE, maxRunning: 2, node: '/usr/bin/node', bin: '/x/bin/coordrl.js' };

  function experiment(): { exp: string; ids: string[] } {
    const exp = path.join(tmp(), 'exp');
    const m = createExperiment(exp, {
      algo: 'a2c',
      envs: ['CartPole-v1'],
      arms: [
        { name: 'a', fields: { torso: 'mlp' } },
        { name: 'b', fields: { torso: 'mlp', lr: 0.003 } },
      ],
      seeds: [1, 2, 3, 4],
      evalEpisodes: 0,
      base: { steps: 1000 },
    });
    return { exp, ids: m.runs.map((r) => r.id) };
  }

  const done = (exp: string, id: string) => {
    const run = readManifest(exp).runs.find((r) => r.id === id);
    if (!run) throw new Error(id);
    mkdirSync(path.join(exp, run.dir), { recursive: true });
    writeFileSync(
      path.join(exp, run.dir, FINAL_FILE),
      JSON.stringify({ score: 42, source: 'train-window', checkpointStep: 1000, eval: null, trainScore: 42 }),
    );
  };

  it('submits every run first, then only what is neither done nor queued; merges the states', async () => {
    const { exp, ids } = experiment();
    const first = fakeSlurm({ sbatch: ok('100\n'), squeue: ok('') });
    const sub = await submitMissing(exp, settings, first.client);
    expect(sub).toMatchObject({ jobId: '100', runs: ids, skipped: [] });
    expect(readFileSync(path.join(exp, 'slurm', 'job-1.sh'), 'utf8')).toContain('#SBATCH --array=0-7%2\n');
    expect(first.calls.find((c) => c.cmd === 'sbatch')?.args).toEqual([
      '--parsable',
      path.join(exp, 'slurm', 'job-1.sh'),
    ]);
    expect(readJobs(exp)?.submissions).toMatchObject([{ jobId: '100', runs: ids, script: 'slurm/job-1.sh' }]);

    // Seven tasks, seven endings.
    const logs = path.join(exp, 'slurm', 'logs');
    const log = (task: number, text: string) => writeFileSync(path.join(logs, `100_${task}.out`), text);
    const start = (t: number) => `coordrl-slurm: task 100_${t} (job ${200 + t}, restart 0) runs ${ids[t]} on n1 at x\n`;
    const exit = (t: number, c: number) => `coordrl-slurm: run ${ids[t]} exited with code ${c} at y\n`;
    done(exp, ids[0]);
    log(0, start(0) + exit(0, 0));
    // 1 running, 2 pending (squeue)
    log(3, `${start(3)}slurmstepd-n1: error: *** JOB 203 ON n1 CANCELLED AT 2026-12-01T00:00:00 ***\n`);
    log(
      4,
      `${start(4)}slurmstepd-n1: error: *** JOB 204 ON n1 CANCELLED AT 2026-12-01T00:00:00 DUE TO TIME LIMIT ***\n`,
    );
    // 5: the run failed: its task's state file says why.
    log(5, start(5) + exit(5, 1));
    const manifest = readManifest(exp);
    const run5 = manifest.runs[5];
    process.env.SLURM_ARRAY_JOB_ID = '100';
    process.env.SLURM_ARRAY_TASK_ID = '5';
    try {
      taskStateSaver(exp)(manifest, [{ ...run5, status: 'failed', error: 'train: env server died' }]);
    } finally {
      delete process.env.SLURM_ARRAY_JOB_ID;
      delete process.env.SLURM_ARRAY_TASK_ID;
    }
    // 6: cancelled while pending: no output file at all. 7: done.
    done(exp, ids[7]);
    log(7, start(7) + exit(7, 0));
    const queue = ok('100_1|RUNNING|n2\n100_2|PENDING|(JobArrayTaskLimit)\n999_0|RUNNING|n3\n');
    const off = fakeSlurm({
      squeue: queue,
      sacct: { code: 1, stdout: '', stderr: 'Slurm accounting storage is disabled' },
    });
    const st = await experimentStatus(exp, off.client);
    expect(st.source).toBe('job output files');
    expect(st.runs.map((r) => [r.state, r.slurmState])).toEqual([
      ['done', null],
      ['running', 'RUNNING'],
      ['pending', 'PENDING'],
      ['cancelled', 'CANCELLED'],
      ['stopped', 'TIMEOUT'],
      ['failed', 'FAILED'],
      ['cancelled', null],
      ['done', null],
    ]);
    expect(st.runs[5].detail).toBe('train: env server died');
    expect(st.runs[1]).toMatchObject({ job: '100_1', log: path.join(logs, '100_1.out') });
    expect(st.counts).toMatchObject({ done: 2, running: 1, pending: 1, cancelled: 2, stopped: 1, failed: 1 });
    // The submit host's manifest follows.
    expect(readManifest(exp).runs.map((r) => r.status)).toEqual([
      'done',
      'running',
      'pending',
      'interrupted',
      'interrupted',
      'failed',
      'interrupted',
      'done',
    ]);

    // With accounting, sacct's word wins over the output file.
    const on = fakeSlurm({ squeue: queue, sacct: ok('100_3|OUT_OF_MEMORY|0:125\n100_4|PREEMPTED|0:15\n') });
    const st2 = await experimentStatus(exp, on.client);
    expect(st2.source).toBe('sacct');
    expect(st2.runs.slice(3, 5).map((r) => [r.state, r.slurmState])).toEqual([
      ['failed', 'OUT_OF_MEMORY'],
      ['stopped', 'PREEMPTED'],
    ]);

    // Resume: everything but the done, running and pending runs, as a second array.
    const again = fakeSlurm({ squeue: queue, sacct: { code: 1, stdout: '', stderr: 'disabled' }, sbatch: ok('101') });
    const sub2 = await submitMissing(exp, settings, again.client);
    expect(sub2.runs).toEqual([ids[3], ids[4], ids[5], ids[6]]);
    expect(sub2.skipped).toEqual([
      { id: ids[0], state: 'done' },
      { id: ids[1], state: 'running' },
      { id: ids[2], state: 'pending' },
      { id: ids[7], state: 'done' },
    ]);
    expect(readFileSync(path.join(exp, 'slurm', 'job-2.sh'), 'utf8')).toContain('#SBATCH --array=0-3%2\n');
    const st3 = await experimentStatus(
      exp,
      fakeSlurm({ squeue: ok(`${queue.stdout}101_0|PENDING|(Priority)\n`), sacct: ok('') }).client,
    );
    expect(st3.runs[3]).toMatchObject({ state: 'pending', job: '101_0', log: path.join(logs, '101_0.out') });
    expect(st3.runs[4]).toMatchObject({ job: '101_1' });

    // Nothing left to submit: no sbatch call.
    const none = fakeSlurm({
      squeue: ok(
        '100_1|RUNNING|n\n100_2|RUNNING|n\n101_0|RUNNING|n\n101_1|PENDING|x\n101_2|PENDING|x\n101_3|PENDING|x\n',
      ),
      sacct: ok(''),
    });
    expect(await submitMissing(exp, settings, none.client)).toMatchObject({ jobId: null, runs: [] });
    expect(none.calls.some((c) => c.cmd === 'sbatch')).toBe(false);
    expect(existsSync(jobsPath(exp))).toBe(true);
  });

  it('records no submission when sbatch refuses', async () => {
    const { exp } = experiment();
    const refused = fakeSlurm({
      squeue: ok(''),
      sbatch: { code: 1, stdout: '', stderr: 'sbatch: error: Invalid qos specification' },
    });
    await expect(submitMissing(exp, settings, refused.client)).rejects.toThrow(
      /sbatch rejected .*: Invalid qos specification/,
    );
    // The settings are kept (so `ab --resume` stays with Slurm), no submission is recorded.
    expect(readJobs(exp)).toMatchObject({ settings, submissions: [] });
  });
});

/** Runs `coordrl ab <args>` in this process; returns the error it threw, if any. */
async function ab(...args: string[]): Promise<Error | null> {
  try {
    await runCli([registerAb], ['ab', ...args], { quietStderr: true });
    return null;
  } catch (e) {
    return e as Error;
  }
}

describe('coordrl ab flags of the Slurm executor', () => {
  const NEW = ['--envs', 'pong', '--arms', 'conv,coordconv', '--seeds', '1', '--steps', '1000'];

  it('refuses Slurm flags without the Slurm executor, bad values, and a lone --run, before writing anything', async () => {
    const out = path.join(tmp(), 'exp');
    const cases: [string[], RegExp][] = [
      [['--partition', 'gpu'], /^--partition go with --executor slurm$/],
      [['--time', '1:00:00', '--no-requeue'], /^--time, --no-requeue go with --executor slurm$/],
      [['--executor', 'slurm', '--time', '4h'], /^--time '4h' is not a Slurm time limit/],
      [['--executor', 'slurm', '--sbatch', 'exclusive'], /^--sbatch 'exclusive' must be one sbatch option/],
      [['--run', 'pong/conv/seed-1'], /^--run goes with --resume <dir>/],
    ];
    const pct = path.join(tmp(), '100%-exp');
    const e = await ab(...NEW, '--out', pct, '--executor', 'slurm');
    expect(e?.message).toMatch(/has a character Slurm's --output cannot take/);
    expect(existsSync(pct)).toBe(false);
    for (const [flags, msg] of cases) {
      const e = await ab(...NEW, '--out', out, ...flags);
      expect(e, flags.join(' ')).toBeInstanceOf(UsageError);
      expect(e?.message).toMatch(msg);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('says Slurm is missing in one line and makes no experiment directory; a dry run does not need it', async () => {
    const out = path.join(tmp(), 'exp');
    const empty = tmp();
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      const e = await ab(...NEW, '--out', out, '--executor', 'slurm');
      expect(e).toBeInstanceOf(UserFacingError);
      expect(e?.message).toMatch(/^Slurm's sbatch is not on the PATH/);
      expect(existsSync(out)).toBe(false);
      expect(await ab(...NEW, '--out', out, '--executor', 'slurm', '--partition', 'gpu', '--dry-run')).toBeNull();
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe('one run of an experiment (what a Slurm task runs)', () => {
  it('runs only the named run, writes its state file and never the shared manifest', async () => {
    const exp = path.join(tmp(), 'exp');
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
    const manifestBefore = readFileSync(path.join(exp, 'manifest.json'), 'utf8');
    const started: string[][] = [];
    // A child that fails at once: enough to see which run was started and what was recorded.
    const launcher: Launcher = (args) => {
      started.push(args);
      return {
        done: Promise.resolve({ code: 1, signal: null, stdout: '', stderrTail: ['coordrl: env server died'] }),
        kill: () => {},
      };
    };
    const id = m.runs[1].id;
    const r = await runExperiment(exp, {
      parallel: 1,
      launcher,
      log: () => {},
      statusEvery: 0,
      handleSignals: false,
      only: id,
      saveState: taskStateSaver(exp),
    });
    expect(started).toHaveLength(1);
    expect(started[0]).toContain(path.join(exp, m.runs[1].configFile));
    expect(r).toMatchObject({ total: 1, done: 0 });
    expect(r.failed.map((f) => f.id)).toEqual([id]);
    expect(readFileSync(path.join(exp, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    const rec = JSON.parse(readFileSync(path.join(exp, 'slurm', 'state', `${id}.json`), 'utf8'));
    expect(rec.run).toMatchObject({ id, status: 'failed', error: 'train: env server died', trainLaunches: 1 });
    expect(existsSync(path.join(exp, 'slurm', 'state', `${m.runs[0].id}.json`))).toBe(false);
    await expect(runExperiment(exp, { parallel: 1, launcher, only: 'CartPole-v1/c/seed-1' })).rejects.toThrow(
      /has no run 'CartPole-v1\/c\/seed-1'/,
    );
  });
});
