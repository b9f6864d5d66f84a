// The CLI pieces of the bridge: `serve` option checks and a short `bench env` run.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { keyPermissionWarnings } from '../envs/key-permissions.js';
import { serverArgs } from '../envs/serve.js';
import { benchEnv } from '../src/bench/env.js';
import { registerBenchEnv } from '../src/commands/bench-env.js';
import { registerServe } from '../src/commands/serve.js';
import { UsageError } from '../src/util/cli-errors.js';

describe('coordrl serve', () => {
  test('beyond loopback needs CURVE keys', () => {
    expect(() => serverArgs({ bind: 'tcp://0.0.0.0:5555' })).toThrow(UsageError);
    expect(() => serverArgs({ bind: 'tcp://10.1.2.3:5555' })).toThrow(/--keys/);
    expect(() => serverArgs({ bind: 'udp://x' })).toThrow(UsageError);
    expect(serverArgs({ bind: 'tcp://127.0.0.1:0' })).toEqual(['--bind', 'tcp://127.0.0.1:0', '--log-level', 'info']);
    expect(serverArgs({ genKeys: '/tmp/k' })).toEqual(['--gen-keys', '/tmp/k']);
  });

  test('passes the limits on, a bad memory size is a usage error', () => {
    expect(serverArgs({ maxGroups: 8, maxGroupsPerClient: 2, maxEnvMemory: '4G' })).toEqual([
      '--max-groups',
      '8',
      '--max-groups-per-client',
      '2',
      '--max-env-memory',
      '4G',
      '--log-level',
      'info',
    ]);
    expect(() => serverArgs({ maxEnvMemory: 'lots' })).toThrow(/--max-env-memory: expected a size/);
    expect(serverArgs({ maxObsBytes: '8M', maxReplyBytes: '64M', reclaimIdle: 0 })).toEqual([
      '--max-obs-bytes',
      '8M',
      '--max-reply-bytes',
      '64M',
      '--reclaim-idle',
      '0',
      '--log-level',
      'info',
    ]);
    expect(() => serverArgs({ maxReplyBytes: 'huge' })).toThrow(/--max-reply-bytes: expected a size/);
  });

  test('registers with help', () => {
    const program = new Command('coordrl');
    registerServe(program);
    const bench = program.command('bench');
    registerBenchEnv(bench);
    const serve = program.commands.find((c) => c.name() === 'serve')!;
    const help = serve.helpInformation();
    for (const opt of ['--bind', '--keys', '--gen-keys', '--max-envs', '--max-groups', '--max-env-memory'])
      expect(help).toContain(opt);
    expect(bench.commands.map((c) => c.name())).toContain('env');
  });
});

describe('CURVE key permissions', () => {
  test('a secret key or keys dir open to other users is reported with the fix', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coordrl-keys-'));
    try {
      mkdirSync(path.join(dir, 'clients'), { mode: 0o700 });
      chmodSync(dir, 0o700);
      const secret = path.join(dir, 'clients', 'client.key_secret');
      writeFileSync(secret, 'x', { mode: 0o600 });
      expect(keyPermissionWarnings(dir)).toEqual([]);
      chmodSync(secret, 0o644);
      chmodSync(path.join(dir, 'clients'), 0o777);
      const w = keyPermissionWarnings(dir);
      expect(w).toContain(
        `secret key ${secret} can be read or changed by other users (mode 644); run: chmod 600 ${secret}`,
      );
      expect(w.some((m) => m.includes('clients is writable by other users'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coordrl bench env', () => {
  test('reports bridge and raw steps/s, their ratio and round trips', async () => {
    const r = await benchEnv({
      env: 'CartPole-v1',
      numEnvs: 2,
      seconds: 0.6,
      groups: 2,
      rounds: 1,
      layout: 'NHWC',
      pings: 50,
    });
    expect(r.bridgeStepsPerSec).toBeGreaterThan(0);
    expect(r.rawStepsPerSec).toBeGreaterThan(0);
    expect(r.ratio).toBeCloseTo(r.bridgeStepsPerSec / r.rawStepsPerSec, 6);
    expect(r.roundTripMs.p95).toBeGreaterThanOrEqual(r.roundTripMs.p50);
    expect(r.perRound.length).toBe(1);
  });
});
