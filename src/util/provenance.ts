// What code and what machine made a run, for its versions.json: results can only be regenerated
// when the exact code is known (a git commit and whether the checkout had local changes, or,
// outside a git checkout, the package version and a hash of the compiled code that ran) and
// compared when the machine is (CPU, cores, the thread settings TensorFlow reads).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../version.js';

export interface CodeVersion {
  version: string;
  /** The package root's git checkout, when it is one (and git answers within the time limit). */
  git: { commit: string; dirty: boolean; changedFiles: number } | null;
  /** sha256 over the compiled code that ran (dist/: src and agents), file names and contents. */
  distSha256: string | null;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  arch: string;
  platform: string;
  /** Thread and math settings from the environment that change speed or numbers, as set. */
  env: Record<string, string>;
}

/** Environment variables that decide threads (hence speed, and float summation order) in TF and friends. */
const THREAD_ENV = [
  'TF_NUM_INTRAOP_THREADS',
  'TF_NUM_INTEROP_THREADS',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'TF_ENABLE_ONEDNN_OPTS',
  'UV_THREADPOOL_SIZE',
  'CUDA_VISIBLE_DEVICES',
  'SLURM_CPUS_PER_TASK',
] as const;

const GIT_TIMEOUT_MS = 5000;

function git(args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', PACKAGE_ROOT, ...args], {
      encoding: 'utf8',
      timeout: GIT_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch {
    return null; // no git, not a checkout, too slow: the dist hash still identifies the code
  }
}

function sameDir(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** The commit of the package root's own checkout (not of a project it is installed in). */
export function gitVersion(): CodeVersion['git'] {
  const top = git(['rev-parse', '--show-toplevel'])?.trim();
  if (!top || !sameDir(top, PACKAGE_ROOT)) return null;
  const commit = git(['rev-parse', 'HEAD'])?.trim();
  const status = git(['status', '--porcelain']);
  if (!commit || status === null) return null;
  const changed = status.split('\n').filter(Boolean).length;
  return { commit, dirty: changed > 0, changedFiles: changed };
}

function filesUnder(dir: string, rel = ''): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, r));
    else if (e.isFile() && /\.(js|mjs|cjs|json)$/.test(e.name)) out.push(r);
  }
  return out;
}

/** sha256 of dist/ (the compiled src/ and agents/ that run): names and contents, in a fixed order. */
export function distHash(root = PACKAGE_ROOT): string | null {
  const dist = path.join(root, 'dist');
  const files = filesUnder(dist).sort();
  if (!files.length) return null;
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(readFileSync(path.join(dist, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

export function codeVersion(): CodeVersion {
  return { version: PACKAGE_VERSION, git: gitVersion(), distSha256: distHash() };
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  const env: Record<string, string> = {};
  for (const k of THREAD_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return {
    cpuModel: cpu[0]?.model?.trim() || cpuModelFromProc() || 'unknown',
    cores: cpu.length,
    arch: arch(),
    platform: platform(),
    env,
  };
}

function cpuModelFromProc(): string | null {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}
