// versions.json records the exact code (git commit + dirty flag, or the version and a hash of
// dist/) and the machine (CPU, cores, thread settings, backend) of every run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeVersion, distHash, gitVersion, machineInfo } from '../src/util/provenance.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../src/version.js';
import { coordrl } from './helpers/cli.js';

function gitOut(args: string[]): string {
  return execFileSync('git', ['-C', PACKAGE_ROOT, ...args], { encoding: 'utf8' });
}

describe('versions.json: code and machine', () => {
  it('the git commit and dirty flag of the package checkout', () => {
    const g = gitVersion();
    expect(g).not.toBeNull();
    expect(g?.commit).toBe(gitOut(['rev-parse', 'HEAD']).trim());
    const changed = gitOut(['status', '--porcelain']).split('\n').filter(Boolean).length;
    expect(g).toMatchObject({ dirty: changed > 0, changedFiles: changed });
  });

  it('without git: no commit, no failure, the version and the dist hash still say which code', () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const c = codeVersion();
      expect(c.git).toBeNull();
      expect(c.version).toBe(PACKAGE_VERSION);
      expect(c.distSha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('the dist hash changes with any compiled file and only with them', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-dist-'));
    mkdirSync(path.join(root, 'dist', 'src'), { recursive: true });
    mkdirSync(path.join(root, 'dist', 'agents'), { recursive: true });
    writeFileSync(path.join(root, 'dist', 'src', 'a.js'), 'export const a = 1;\n');
    writeFileSync(path.join(root, 'dist', 'agents', 'dqn.js'), 'export const b = 2;\n');
    const h1 = distHash(root);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(distHash(root)).toBe(h1);
    writeFileSync(path.join(root, 'dist', 'src', 'a.d.ts.map'), 'not code');
    expect(distHash(root)).toBe(h1);
    writeFileSync(path.join(root, 'dist', 'agents', 'dqn.js'), 'export const b = 3;\n');
    expect(distHash(root)).not.toBe(h1);
    expect(distHash(mkdtempSync(path.join(tmpdir(), 'coordrl-nodist-')))).toBeNull();
  });

  it('the machine: CPU model, core count, the thread settings that are set', () => {
    const saved = process.env.OMP_NUM_THREADS;
    process.env.OMP_NUM_THREADS = '3';
    try {
      const m = machineInfo();
      expect(m.cores).toBe(cpus().length);
      expect(m.cpuModel.length).toBeGreaterThan(0);
      expect(m.cpuModel).not.toBe('unknown');
      expect(m.env.OMP_NUM_THREADS).toBe('3');
    } finally {
      if (saved === undefined) delete process.env.OMP_NUM_THREADS;
      else process.env.OMP_NUM_THREADS = saved;
    }
  });

  it("a run's versions.json holds them, with the backend", () => {
    const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-versions-')), 'R');
    const r = coordrl([
      ...['train', '--algo', 'a2c', '--env', 'CartPole-v1', '--steps', '200', '--num-envs', '2'],
      ...['--no-progress', '--run-dir', runDir],
    ]);
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const v = JSON.parse(readFileSync(path.join(runDir, 'versions.json'), 'utf8'));
    expect(v).toMatchObject({
      coordrl: PACKAGE_VERSION,
      backend: 'tensorflow',
      code: { version: PACKAGE_VERSION, git: { commit: gitOut(['rev-parse', 'HEAD']).trim() } },
      machine: { cores: cpus().length },
    });
    expect(typeof v.code.git.dirty).toBe('boolean');
    expect(v.code.distSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(v.machine.cpuModel).toBe(machineInfo().cpuModel);
  });
});
