// The CLI as a user runs it (the compiled dist/, built by `npm test` before vitest).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '..', 'bin', 'coordrl.js');

function coordrl(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  // TensorFlow prints two INFO lines before its logging is set up; they are not ours.
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l && !/absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow/.test(l));
  return { code: r.status, stdout: r.stdout, stderr };
}

describe('coordrl CLI', () => {
  it('doctor --json reports the native TensorFlow backend, Python packages, ROMs and a bridge round trip', () => {
    const r = coordrl('doctor', '--json');
    const report = JSON.parse(r.stdout);
    expect(report.backend).toBe('tensorflow');
    expect(report.device).toBe('cpu');
    expect(report.tensorflowVersion).toMatch(/^2\.\d+/);
    expect(report.python.version).toMatch(/^3\.\d+/);
    expect(report.python.gymnasium).toBeTruthy();
    expect(report.python.alepy).toBeTruthy();
    expect(report.roms).toBeGreaterThan(50);
    expect(report.bridge.ok).toBe(true);
    expect(report.bridge.roundTripMs).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  });

  it('has --help on every command', () => {
    for (const cmd of [
      ['train'],
      ['resume'],
      ['eval'],
      ['info'],
      ['ab'],
      ['report'],
      ['plot'],
      ['toy'],
      ['serve'],
      ['doctor'],
      ['bench'],
      ['bench', 'nn'],
      ['bench', 'env'],
      ['bench', 'replay'],
    ]) {
      const r = coordrl(...cmd, '--help');
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: coordrl/);
    }
  });

  it('exits with code 2 and one line for bad arguments', () => {
    for (const args of [
      ['train', '--algo', 'ppo'],
      ['train', '--lr', 'fast'],
      ['train', '--frames', 'lots'],
      ['bench', 'nn', '--iters', '0'],
      ['bench', 'nn', '--net', 'minatar', '--optimizer', 'sgd'],
      ['bench', 'nn', '--net', 'mlp', '--optimizer', 'adam'],
      ['bench', 'nn', '--precision', 'bf16'], // --net nature times eager ops only
      ['bench', 'nn', '--net', 'cnn', '--precision', 'fp16'],
      ['bench', 'nn', '--net', 'mlp', '--torso', 'coordconv'],
      ['no-such-command'],
    ]) {
      const r = coordrl(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.filter((l) => !l.startsWith('(run with --help')).length, args.join(' ')).toBe(1);
    }
  });

  it('names a wrong config-file field precisely, with exit code 2', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coordrl-cli-'));
    const file = path.join(dir, 'run.yaml');
    writeFileSync(file, 'algo: dqn\nbuffer_size: 1000\n');
    const r = coordrl('train', '--config', file, '--dry-run');
    expect(r.code).toBe(2);
    expect(r.stderr.join('\n')).toMatch(/unknown field 'buffer_size'/);
  });

  it('train --dry-run prints parameter counts of both torsos', () => {
    const r = coordrl('train', '--dry-run', '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.torso).toBe('coordconv');
    expect(d.params['conv torso']).toBe(1_684_128);
    expect(d.params['coordconv torso']).toBe(1_688_224);
    expect(d.budgetFrames).toBe(10_000_000);
  });

  it("plot draws runs' curves to PNG/SVG and explains bad input", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-plot-'));
    const runs = ['a', 'b'].map((name, k) => {
      const dir = path.join(root, name);
      mkdirSync(dir);
      const lines = [0, 1, 2, 3].map((i) =>
        JSON.stringify({ step: 1000 * i, frames: 4000 * i, time: i, ...(i > 0 ? { score: -21 + i + k } : {}) }),
      );
      writeFileSync(path.join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
      return dir;
    });
    const png = path.join(root, 'c.png');
    const r = coordrl('plot', ...runs, '--labels', 'conv,coordconv', '--out', png, '--json');
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.runs.map((x: { label: string }) => x.label)).toEqual(['conv', 'coordconv']);
    expect(out.runs[1].last).toEqual({ x: 12000, y: -17 });
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    const svg = path.join(root, 'c.svg');
    expect(coordrl('plot', runs[0], '--metric', 'time', '--x', 'step', '--out', svg).code).toBe(0);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg/);
    // a bare JSON-lines file (another tool's log) plots too, labelled by its name
    const other = path.join(root, 'sb3.jsonl');
    writeFileSync(other, `${JSON.stringify({ frames: 8000, score: -20 })}\n`);
    const mixed = JSON.parse(coordrl('plot', runs[0], other, '--out', png, '--json').stdout);
    expect(mixed.runs[1]).toEqual({ label: 'sb3', points: 1, last: { x: 8000, y: -20 } });
    // Without --out the plot goes next to the first run (not into the current directory), and says where.
    const here = JSON.parse(coordrl('plot', runs[0], '--json').stdout);
    expect(here.file).toBe(path.resolve(runs[0], 'curves.png'));
    expect(readFileSync(here.file).subarray(1, 4).toString()).toBe('PNG');
    const bad = coordrl('plot', runs[0], '--out', path.join(root, 'c.pdf'));
    expect(bad.code).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/--out must end in \.png or \.svg/);
    const noRun = coordrl('plot', root, '--out', png);
    expect(noRun.code).not.toBe(0);
    expect(noRun.stderr.join('\n')).toMatch(/no metrics\.jsonl/);
    const noMetric = coordrl('plot', runs[0], '--metric', 'nothing', '--out', png);
    expect(noMetric.stderr.join('\n')).toMatch(/no 'nothing' values/);
  });
});
