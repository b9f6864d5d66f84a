// Bad input to `train`, `resume`, `eval` and `plot`: one line on stderr, exit 2, no stack trace,
// and nothing written before the input is known to be good.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, coordrl, errorLines } from './helpers/cli.js';

const TINY = ['--env', 'CartPole-v1', '--num-envs', '2', '--no-progress'];

function expectUsageError(r: CliResult, pattern: RegExp): void {
  const lines = errorLines(r);
  expect(r.code, r.stderr.join('\n')).toBe(2);
  expect(lines, r.stderr.join('\n')).toHaveLength(1);
  expect(lines[0]).toMatch(/^coordrl: /);
  expect(lines[0]).not.toMatch(/unexpected error|\bat .*\.js:\d+/);
  expect(lines[0]).toMatch(pattern);
}

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-clierr-'));
}

/** Runs the command with `dir` as a read-only mount of its own (a private mount namespace). */
function readOnly(dir: string, how: 'tmpfs' | 'bind'): string[] {
  const mount =
    how === 'tmpfs' ? 'mount -t tmpfs -o ro tmpfs "$0"' : 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"';
  return ['unshare', '-rm', 'sh', '-c', `${mount} && exec "$@"`, dir];
}

describe('one-line usage errors (exit 2)', () => {
  it('--run-dir that is a file or under a file', () => {
    const root = tmp();
    const file = path.join(root, 'afile');
    writeFileSync(file, 'x');
    expectUsageError(coordrl(['train', ...TINY, '--run-dir', file]), /is a file, not a directory/);
    expectUsageError(
      coordrl(['train', ...TINY, '--run-dir', path.join(file, 'sub')]),
      /under .*afile, which is a file/,
    );
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a read-only run directory says read-only (EROFS), for train and for resume', () => {
    const root = tmp();
    const ro = path.join(root, 'ro');
    mkdirSync(ro);
    const r = coordrl(['train', ...TINY, '--steps', '100', '--run-dir', path.join(ro, 'run')], {
      prefix: readOnly(ro, 'tmpfs'),
    });
    expectUsageError(r, /read-only file system \(EROFS\)/);
    expect(r.stderr.join('\n')).not.toMatch(/ENOENT/);
    const run = path.join(root, 'run');
    expect(coordrl(['train', ...TINY, '--steps', '200', '--checkpoint-every', '100', '--run-dir', run]).code).toBe(0);
    const before = readFileSync(path.join(run, 'config.json'), 'utf8');
    expectUsageError(
      coordrl(['resume', run, '--steps', '400', '--no-progress'], { prefix: readOnly(run, 'bind') }),
      /run directory .*: cannot write in .*: read-only file system \(EROFS\)/,
    );
    expect(readFileSync(path.join(run, 'config.json'), 'utf8')).toBe(before);
  });

  it('--env-servers that is not a ZeroMQ endpoint, --env-keys on a missing directory; no run directory made', () => {
    const cwd = tmp();
    expectUsageError(
      coordrl(['train', ...TINY, '--env-servers', 'http://x'], { cwd }),
      /'http:\/\/x' is not a list of tcp:\/\/HOST:PORT or ipc:\/\/PATH endpoints/,
    );
    expectUsageError(
      coordrl(['train', ...TINY, '--env-servers', 'tcp://127.0.0.1:9', '--env-keys', path.join(cwd, 'nokeys')], {
        cwd,
      }),
      /--env-keys .*nokeys does not exist; make one with `coordrl serve --gen-keys/,
    );
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an unknown game: a close match, and no run directory before the env is known', () => {
    const cwd = tmp();
    expectUsageError(
      coordrl(['train', '--env', 'pongg', '--no-progress'], { cwd }),
      /unknown environment 'pongg'.*pong/,
    );
    expect(existsSync(path.join(cwd, 'runs'))).toBe(false);
  });

  it('--frames with --steps is refused, in flags and in a config file', () => {
    const cwd = tmp();
    expectUsageError(
      coordrl(['train', ...TINY, '--frames', '100', '--steps', '100', '--dry-run'], { cwd }),
      /--frames and --steps both set the training budget; give only one/,
    );
    const file = path.join(cwd, 'c.yaml');
    writeFileSync(file, 'env: CartPole-v1\nframes: 100\nsteps: 100\n');
    expectUsageError(coordrl(['train', '--config', file, '--dry-run'], { cwd }), /both set the training budget \(in /);
  });

  it('an unknown config field gets a "did you mean"', () => {
    const file = path.join(tmp(), 'run.yaml');
    writeFileSync(file, 'algo: dqn\nbuffer_size: 1000\nlearningstart: 5\n');
    expectUsageError(
      coordrl(['train', '--config', file, '--dry-run']),
      /unknown fields 'buffer_size' \(did you mean 'bufferSize'\?\), 'learningstart' \(did you mean 'learningStarts'\?\)/,
    );
  });

  it('eval --episodes and --num-envs are bounded before anything is loaded', () => {
    const dir = tmp();
    expectUsageError(coordrl(['eval', dir, '--num-envs', '100000']), /--num-envs must be at most 1,024, got 100000/);
    expectUsageError(
      coordrl(['eval', dir, '--episodes', '1000000000']),
      /--episodes must be at most 100,000, got 1000000000/,
    );
  });

  it('plot on a directory without metrics', () => {
    const dir = tmp();
    expectUsageError(coordrl(['plot', dir, '--out', path.join(dir, 'c.png')]), /has no metrics\.jsonl/);
  });
});

describe('memory and bounds: refused before anything is allocated or written', () => {
  it('--batch-size 1000000000 and --n-steps 100000000 name the flag and the estimate', () => {
    const cwd = tmp();
    expectUsageError(
      coordrl(['train', ...TINY, '--algo', 'dqn', '--batch-size', '1000000000', '--steps', '1000'], { cwd }),
      /this run needs about [0-9.]+ [GT]B of memory \(batch tensors [0-9.]+ [GT]B\), more than the .* available .*; lower --batch-size 1000000000/,
    );
    expectUsageError(
      coordrl(['train', ...TINY, '--n-steps', '100000000', '--steps', '1000'], { cwd }),
      /needs about .* of memory .*lower --n-steps 100000000 or --num-envs 2/,
    );
    expectUsageError(
      coordrl(['train', ...TINY, '--algo', 'dqn', '--buffer-size', '2000000'], { cwd }),
      /'bufferSize': Too big/i,
    );
    expectUsageError(coordrl(['train', ...TINY, '--num-envs', '100000'], { cwd }), /'numEnvs': Too big/i);
    expectUsageError(coordrl(['train', ...TINY, '--seed', '1e300'], { cwd }), /'seed': Too big/i);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--dry-run shows the memory estimate, and refuses what a run would refuse', () => {
    const ok = coordrl(['train', ...TINY, '--algo', 'dqn', '--buffer-size', '50000', '--dry-run', '--json']);
    expect(ok.code, ok.stderr.join('\n')).toBe(0);
    const d = JSON.parse(ok.stdout);
    const replay = d.memory.parts.find((p: { name: string }) => p.name === 'replay buffer');
    // CartPole: 4 float32 per observation + 12 bytes per slot
    expect(replay.bytes).toBe(50_000 * (16 + 12));
    expect(d.memory.totalBytes).toBeGreaterThan(replay.bytes);
    const human = coordrl(['train', ...TINY, '--dry-run']);
    expect(human.stdout).toMatch(/memory: about [0-9.]+ [kMG]B\n {4}runtime: /);
    const big = coordrl(['train', ...TINY, '--algo', 'dqn', '--batch-size', '1000000000', '--dry-run']);
    expect(big.code).toBe(2);
    expect(big.stdout).toMatch(/batch tensors: [0-9.]+ [GT]B/);
  });
});
