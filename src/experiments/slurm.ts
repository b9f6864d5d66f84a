// Slurm, the parts that do not touch an experiment: resource flags -> sbatch options, the job
// array script, the squeue/sacct parsable output, and the commands themselves (sbatch, squeue,
// sacct, scancel) with one-line errors. slurm-executor.ts uses these for an experiment.
import { execFile } from 'node:child_process';
import { UsageError, UserFacingError } from '../util/cli-errors.js';

/** What each array task (one run) asks Slurm for. Every field is optional but the signal. */
export interface SlurmResources {
  partition?: string;
  /** Time limit per run, in sbatch's format: `MM`, `HH:MM:SS`, `D-HH`, `D-HH:MM:SS`, ... */
  time?: string;
  cpusPerRun?: number;
  /** Memory per run, e.g. `8G`, `16000M`. */
  mem?: string;
  /** GPUs per run: a count (`1`) or `type:count` (`a100:1`), as `--gres=gpu:...`. */
  gpusPerRun?: string;
  account?: string;
  qos?: string;
  /** Site-specific sbatch options, passed through as `#SBATCH <opt>` lines. */
  extra: string[];
  /** Seconds before the time limit at which Slurm sends SIGUSR1 to the job script (checkpoint, exit, requeue). */
  signalBefore: number;
  /** `--requeue`, and a requeue of a task its pre-limit signal stopped (it continues from its checkpoint). */
  requeue: boolean;
}

export const DEFAULT_SIGNAL_BEFORE = 120;

const TIME_RE = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/;
const MEM_RE = /^\d+[KMGT]?$/;
const GPUS_RE = /^([A-Za-z0-9_.-]+:)?[1-9]\d*$/;
/** Partition, account and QoS names: no whitespace, quotes or shell characters (they go into the script). */
const NAME_RE = /^[A-Za-z0-9_.,+=@%-]+$/;

/** Checks every resource value before it goes into a script; throws a UsageError naming the flag. */
export function validateResources(r: SlurmResources): SlurmResources {
  const name = (flag: string, v: string | undefined) => {
    if (v !== undefined && !NAME_RE.test(v)) {
      throw new UsageError(`${flag} '${v}' is not a Slurm name (letters, digits and _.,+=@%- only)`);
    }
  };
  name('--partition', r.partition);
  name('--account', r.account);
  name('--qos', r.qos);
  if (r.time !== undefined && !TIME_RE.test(r.time)) {
    throw new UsageError(`--time '${r.time}' is not a Slurm time limit (examples: 90, 4:00:00, 1-12:00:00)`);
  }
  if (r.mem !== undefined && !MEM_RE.test(r.mem)) {
    throw new UsageError(`--mem '${r.mem}' is not a Slurm memory size (examples: 8G, 16000M)`);
  }
  if (r.gpusPerRun !== undefined && !GPUS_RE.test(r.gpusPerRun)) {
    throw new UsageError(`--gpus-per-run '${r.gpusPerRun}' must be a count (1) or type:count (a100:1)`);
  }
  for (const o of r.extra) {
    if (!/^--?[A-Za-z]/.test(o) || /[\r\n\0]/.test(o)) {
      throw new UsageError(`--sbatch '${o}' must be one sbatch option such as --constraint=a100 (one per --sbatch)`);
    }
  }
  if (!Number.isInteger(r.signalBefore) || r.signalBefore < 1 || r.signalBefore > 65535) {
    throw new UsageError(`--signal-before must be 1-65535 seconds (Slurm's range), got ${r.signalBefore}`);
  }
  if (r.time !== undefined && timeLimitSeconds(r.time) <= r.signalBefore) {
    throw new UsageError(
      `--signal-before ${r.signalBefore} s is not shorter than --time ${r.time}: the run would be stopped at once`,
    );
  }
  return r;
}

/** A Slurm time limit in seconds (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`). */
export function timeLimitSeconds(t: string): number {
  const [d, rest] = t.includes('-') ? t.split('-') : [null, t];
  const p = rest.split(':').map(Number);
  if (d !== null) {
    const [h, m = 0, s = 0] = p;
    return ((Number(d) * 24 + h) * 60 + m) * 60 + s;
  }
  if (p.length === 1) return p[0] * 60;
  if (p.length === 2) return p[0] * 60 + p[1];
  return (p[0] * 60 + p[1]) * 60 + p[2];
}

/** The `#SBATCH` options for the resources, in the order a reader expects. */
export function sbatchOptions(r: SlurmResources): string[] {
  const o: string[] = [];
  if (r.partition) o.push(`--partition=${r.partition}`);
  if (r.account) o.push(`--account=${r.account}`);
  if (r.qos) o.push(`--qos=${r.qos}`);
  if (r.time) o.push(`--time=${r.time}`);
  if (r.cpusPerRun) o.push(`--cpus-per-task=${r.cpusPerRun}`);
  if (r.mem) o.push(`--mem=${r.mem}`);
  if (r.gpusPerRun) o.push(`--gres=gpu:${r.gpusPerRun}`);
  o.push(`--signal=B:USR1@${r.signalBefore}`);
  if (r.requeue) o.push('--requeue');
  else o.push('--no-requeue');
  o.push(...r.extra);
  return o;
}

export interface JobScriptSpec {
  expDir: string;
  /** Run ids; array task i runs runs[i]. */
  runs: string[];
  jobName: string;
  /** `%A_%a.out` style output path (absolute). */
  output: string;
  /** Concurrency cap (`%K` on the array), if any. */
  maxRunning?: number;
  resources: SlurmResources;
  /** Where the script is written (named in its header). */
  scriptPath: string;
  /** The node binary and bin/coordrl.js as seen from the nodes. */
  node: string;
  bin: string;
  createdAt: string;
}

/** Single-quotes a string for bash. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The job array script: one run per array task, each through `coordrl ab --resume EXP --run ID`
 * (idempotent: a done run exits at once, a started one resumes from its newest good checkpoint).
 * Slurm sends SIGUSR1 to this script `signalBefore` seconds before the time limit; it passes a
 * SIGTERM to coordrl (which saves a checkpoint and exits 130) and, with requeue, requeues the task.
 */
export function jobScript(spec: JobScriptSpec): string {
  const n = spec.runs.length;
  if (n === 0) throw new Error('jobScript: no runs');
  const array = `0-${n - 1}${spec.maxRunning ? `%${spec.maxRunning}` : ''}`;
  const sbatch = [
    `--job-name=${spec.jobName}`,
    `--array=${array}`,
    // sbatch reads double-quoted values on #SBATCH lines (paths with spaces).
    `--output=${/^[\w./%+=@,:-]+$/.test(spec.output) ? spec.output : `"${spec.output}"`}`,
    '--open-mode=append',
    ...sbatchOptions(spec.resources),
  ];
  const cases = spec.runs.map((id, i) => `  ${i}) RUN=${shq(id)} ;;`);
  const commands = spec.runs.map(
    (id, i) => `#   task ${i}: coordrl ab --resume ${shq(spec.expDir)} --run ${shq(id)} --status-every 300`,
  );
  return `#!/bin/bash
# coordrl A/B experiment ${spec.expDir}: ${n} run${n === 1 ? '' : 's'} as one Slurm job array, one run per task.
# Written by \`coordrl ab --executor slurm\` at ${spec.createdAt}. Submit it again by hand with
#   sbatch ${shq(spec.scriptPath)}
# (harmless: a done run exits at once, a started one resumes from its newest good checkpoint).
# The commands, one per array task:
${commands.join('\n')}
${sbatch.map((o) => `#SBATCH ${o}`).join('\n')}
set -u

# The node and coordrl as seen from the compute nodes (same path as on the submit host, or set
# COORDRL_NODE / COORDRL_BIN in the environment sbatch passes on).
NODE=\${COORDRL_NODE:-${shq(spec.node)}}
COORDRL_BIN=\${COORDRL_BIN:-${shq(spec.bin)}}
EXP=${shq(spec.expDir)}
# 1: a task stopped by the pre-limit signal requeues itself (0 with --no-requeue).
REQUEUE=${spec.resources.requeue ? 1 : 0}

case "\${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}" in
${cases.join('\n')}
  *) echo "coordrl-slurm: no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;
esac

TASK="\${SLURM_ARRAY_JOB_ID:-}_\${SLURM_ARRAY_TASK_ID}"
echo "coordrl-slurm: task $TASK (job \${SLURM_JOB_ID:-}, restart \${SLURM_RESTART_COUNT:-0}) runs $RUN on $(hostname -s) at $(date -u +%FT%TZ)"
"$NODE" "$COORDRL_BIN" ab --resume "$EXP" --run "$RUN" --status-every 300 &
child=$!

# SIGUSR1 (before the time limit, from --signal=B:USR1@...) reaches only this script: pass it on
# as SIGTERM, so coordrl saves a checkpoint and exits. SIGTERM (scancel, preemption) reaches every
# process of the job already: only note it.
signalled=''
trapped=''
trap 'signalled=USR1; trapped=1; kill -TERM "$child" 2>/dev/null' USR1
trap 'signalled=\${signalled:-TERM}; trapped=1' TERM
# A trapped signal cuts \`wait\` short (status > 128): wait again for the run's own exit code.
# 127: the run had already been waited for (the signal came just after), its code is the last one.
code=''
prev=''
while [ -z "$code" ]; do
  trapped=''
  wait "$child"
  rc=$?
  if [ "$rc" = 127 ] && [ -n "$prev" ]; then code=$prev
  elif [ -z "$trapped" ]; then code=$rc
  fi
  prev=$rc
done

echo "coordrl-slurm: run $RUN exited with code $code\${signalled:+ after SIG$signalled} at $(date -u +%FT%TZ)"
if [ "$signalled" = USR1 ] && [ "$code" = 130 ] && [ "$REQUEUE" = 1 ]; then
  echo "coordrl-slurm: requeueing $TASK: it continues from its checkpoint"
  scontrol requeue "$TASK"
fi
exit "$code"
`;
}

// ---- squeue / sacct ----

/** The run-level view of a Slurm job state. */
export type SlurmPhase = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'stopped';

/**
 * Slurm job states (squeue %T / sacct State, see `man squeue` JOB STATE CODES) -> phase.
 * stopped: ended before finishing through no fault of the run (time limit, preemption); the run
 * continues from its checkpoint on the next `ab --resume` (or on its own when requeued).
 */
export function slurmPhase(state: string): SlurmPhase {
  const s = state.trim().split(/\s+/)[0].replace(/\+$/, '').toUpperCase();
  switch (s) {
    case 'PENDING':
    case 'CONFIGURING':
    case 'REQUEUED':
    case 'REQUEUE_FED':
    case 'REQUEUE_HOLD':
    case 'RESV_DEL_HOLD':
    case 'SPECIAL_EXIT':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'RESIZING':
      return 'pending';
    case 'RUNNING':
    case 'COMPLETING':
    case 'SIGNALING':
    case 'STAGE_OUT':
    case 'UPDATE_DB':
      return 'running';
    case 'COMPLETED':
      return 'completed';
    case 'CANCELLED':
    case 'REVOKED':
      return 'cancelled';
    case 'TIMEOUT':
    case 'PREEMPTED':
    case 'DEADLINE':
      return 'stopped';
    default:
      // FAILED, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, and anything newer.
      return 'failed';
  }
}

export interface SlurmTaskState {
  /** `<array job id>_<task>` */
  id: string;
  arrayJobId: string;
  task: number;
  /** Slurm's state word, e.g. RUNNING, CANCELLED (without "by <uid>"). */
  state: string;
  phase: SlurmPhase;
  /** squeue's reason or node list, sacct's exit code. */
  detail: string;
}

/** Splits `1234_5` into job and task; arrays not yet expanded (`1234_[6-9%2]`) are expanded. */
function arrayIds(id: string): { arrayJobId: string; task: number }[] {
  const m = /^(\d+)_(\d+)$/.exec(id);
  if (m) return [{ arrayJobId: m[1], task: Number(m[2]) }];
  const r = /^(\d+)_\[([0-9,-]+)(?:%\d+)?\]$/.exec(id);
  if (!r) return [];
  const out: { arrayJobId: string; task: number }[] = [];
  for (const part of r[2].split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    // Bounded: an experiment never has more runs than this.
    for (let t = a; t <= b && t - a < 100_000; t++) out.push({ arrayJobId: r[1], task: t });
  }
  return out;
}

function parseLines(text: string, fields: number): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'))
    .filter((f) => f.length >= fields);
}

/** The squeue fields we ask for: `squeue -h -r -o SQUEUE_FORMAT`. */
export const SQUEUE_FORMAT = '%i|%T|%R';

/** `squeue -h -r -o '%i|%T|%R'` lines -> task states (non-array jobs are ignored). */
export function parseSqueue(text: string): SlurmTaskState[] {
  const out: SlurmTaskState[] = [];
  for (const [id, state, detail = ''] of parseLines(text, 2)) {
    for (const a of arrayIds(id)) {
      out.push({ id: `${a.arrayJobId}_${a.task}`, ...a, state, phase: slurmPhase(state), detail });
    }
  }
  return out;
}

/** The sacct fields we ask for: `sacct -n -P -X -j IDS --format=SACCT_FORMAT`. */
export const SACCT_FORMAT = 'JobID,State,ExitCode';

/** `sacct -n -P -X --format=JobID,State,ExitCode` lines -> task states (job steps ignored). */
export function parseSacct(text: string): SlurmTaskState[] {
  const out: SlurmTaskState[] = [];
  for (const [id, stateField, exit = ''] of parseLines(text, 2)) {
    if (id.includes('.')) continue; // a job step (batch, extern): the allocation line says it all
    const state = stateField.trim().split(/\s+/)[0];
    for (const a of arrayIds(id)) {
      out.push({ id: `${a.arrayJobId}_${a.task}`, ...a, state, phase: slurmPhase(state), detail: exit });
    }
  }
  return out;
}

/** slurmstepd's `CANCELLED AT ... DUE TO <reason>` -> the job state accounting would record. */
const STEPD_REASONS: Record<string, string> = {
  '': 'CANCELLED',
  'TIME LIMIT': 'TIMEOUT',
  PREEMPTION: 'PREEMPTED',
  'NODE FAILURE': 'NODE_FAIL',
  'JOB REQUEUE': 'REQUEUED',
};

/**
 * What a job's output file says about its end when accounting is off: slurmstepd's
 * `*** JOB n ON host CANCELLED AT ... [DUE TO TIME LIMIT|PREEMPTION|NODE FAILURE|JOB REQUEUE] ***`, or the job
 * script's own last line `coordrl-slurm: run ... exited with code N`.
 */
export function parseJobLog(text: string): { state: string; exitCode: number | null } | null {
  let last: { state: string; exitCode: number | null } | null = null;
  for (const line of text.split('\n')) {
    const stepd = /\*\*\* JOB \d+ ON \S+ CANCELLED AT \S+(?: DUE TO ([A-Z ]+?))? \*\*\*/.exec(line);
    if (stepd) {
      last = { state: STEPD_REASONS[stepd[1] ?? ''] ?? 'CANCELLED', exitCode: null };
      continue;
    }
    if (/^coordrl-slurm: task /.test(line)) {
      last = null; // a requeued task starts again: only what follows counts
      continue;
    }
    const exit = /^coordrl-slurm: run \S+ exited with code (\d+)/.exec(line);
    if (exit) {
      const code = Number(exit[1]);
      // A stop by Slurm's signal recorded above keeps its state.
      if (last && last.state !== 'COMPLETED' && last.state !== 'FAILED') last = { ...last, exitCode: code };
      else last = { state: code === 0 ? 'COMPLETED' : 'FAILED', exitCode: code };
    }
  }
  return last;
}

// ---- the commands ----

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one Slurm command (injectable for tests); rejects with code 'ENOENT' when it is missing. */
export type SlurmExec = (cmd: string, args: string[]) => Promise<CommandResult>;

export const execSlurm: SlurmExec = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (e && typeof e.code === 'string') {
        reject(e);
        return;
      }
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });

/** Slurm's own message: its `error:` lines, else its last line. */
export function slurmMessage(r: CommandResult): string {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /error:/i.test(l)).map((l) => l.replace(/^\S+: error: /, ''));
  return (errors.length ? errors.join('; ') : (lines.at(-1) ?? `exit code ${r.code}`)).slice(0, 1000);
}

export class SlurmClient {
  constructor(private readonly exec: SlurmExec = execSlurm) {}

  private async call(cmd: string, args: string[]): Promise<CommandResult> {
    try {
      return await this.exec(cmd, args);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        throw new UserFacingError(
          `Slurm's ${cmd} is not on the PATH: run this on a Slurm submit host (or use --executor local; a one-machine cluster for trying it: sudo scripts/slurm-local.sh)`,
        );
      }
      throw new UserFacingError(`${cmd} could not run: ${err.message}`);
    }
  }

  /** Throws the one-line 'not on the PATH' error when there is no sbatch. */
  async check(): Promise<void> {
    await this.call('sbatch', ['--version']);
  }

  /** Submits a script; returns the job id. sbatch's own message when it refuses. */
  async sbatch(script: string): Promise<string> {
    const r = await this.call('sbatch', ['--parsable', script]);
    if (r.code !== 0) throw new UserFacingError(`sbatch rejected ${script}: ${slurmMessage(r)}`);
    const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (!id) throw new UserFacingError(`sbatch printed no job id for ${script}: '${r.stdout.trim().slice(0, 200)}'`);
    return id;
  }

  /** The array tasks squeue knows (this user's jobs), or null when squeue cannot answer. */
  async squeue(): Promise<SlurmTaskState[]> {
    const r = await this.call('squeue', ['--me', '-h', '-r', '-o', SQUEUE_FORMAT]);
    if (r.code !== 0) throw new UserFacingError(`squeue failed: ${slurmMessage(r)}`);
    return parseSqueue(r.stdout);
  }

  /** Finished and running tasks from accounting; null when accounting storage is disabled. */
  async sacct(jobIds: string[]): Promise<SlurmTaskState[] | null> {
    if (!jobIds.length) return [];
    const r = await this.call('sacct', ['-n', '-P', '-X', '-j', jobIds.join(','), `--format=${SACCT_FORMAT}`]);
    if (r.code !== 0) return null; // "Slurm accounting storage is disabled", or no slurmdbd reachable
    return parseSacct(r.stdout);
  }

  async scancel(jobIds: string[]): Promise<void> {
    if (!jobIds.length) return;
    const r = await this.call('scancel', jobIds);
    if (r.code !== 0) throw new UserFacingError(`scancel failed: ${slurmMessage(r)}`);
  }
}
