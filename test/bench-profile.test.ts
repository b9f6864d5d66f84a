// `coordrl bench train --profile` (where an env step goes, the server's side included) and
// `coordrl bench transport` (the round-trip floor), on short real runs. No timing is asserted,
// only that the breakdown is complete and consistent.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatStepProfile } from '../src/bench/step-profile.js';
import { benchTrain } from '../src/bench/train.js';
import { benchTransport } from '../src/bench/transport.js';
import { registerBenchTrain } from '../src/commands/bench-train.js';
import { registerBenchTransport } from '../src/commands/bench-transport.js';

describe('bench train --profile', () => {
  it('breaks a DQN CartPole env step into parts that add up, with the server side and a round trip', async () => {
    const r = await benchTrain({
      algo: 'dqn',
      env: 'CartPole-v1',
      torso: 'mlp',
      seconds: 1,
      warmup: 0.2,
      learningStarts: 200,
      profile: true,
    });
    const p = r.profile;
    expect(p).toBeDefined();
    if (!p) return;
    expect(p.envSteps).toBe(r.envSteps);
    const names = p.rows.map((x) => x.name);
    for (const want of [
      'env: encode + send step',
      'update',
      'update / replay sample',
      'update / session run',
      'update / weight write-back',
      'env: wait for the reply',
      'replay add',
    ])
      expect(names).toContain(want);
    const sum = p.rows.reduce((s, x) => s + x.usPerStep, 0);
    expect(sum).toBeCloseTo(p.usPerStep, 3);
    expect(p.rows.reduce((s, x) => s + x.share, 0)).toBeCloseTo(1, 6);
    // One env, an update every 4 steps (DQN's default trainFreq), each one session run.
    const calls = (n: string) => p.rows.find((x) => x.name === n)?.calls ?? 0;
    expect(calls('env: wait for the reply')).toBe(r.envSteps);
    expect(calls('update')).toBe(r.updates);
    expect(Math.abs(calls('update') - r.envSteps / 4)).toBeLessThanOrEqual(1);
    // Plus an upload of the target's weights after each target sync (every 1,000 steps).
    const uploads = p.sessionRunsPerStep * r.envSteps - r.updates;
    expect(uploads).toBeGreaterThanOrEqual(0);
    expect(uploads).toBeLessThanOrEqual(Math.ceil(r.envSteps / 1000) + 1);
    expect(p.server?.envStepUs).toBeGreaterThan(0);
    expect(p.server?.requestUs).toBeGreaterThan(p.server?.envStepUs ?? Infinity);
    expect(p.roundTrip?.steps).toBe(2000);
    expect(p.roundTrip?.meanUs).toBeGreaterThan(p.roundTrip?.serverUs ?? Infinity);
    const text = formatStepProfile(p);
    expect(text).toContain('env server, per step');
    expect(text).toContain('lock-step round trip');
  }, 120_000);

  it('is an option of bench train, and bench transport has its own command', () => {
    const program = new Command('coordrl');
    const bench = program.command('bench');
    registerBenchTrain(bench);
    registerBenchTransport(bench);
    const train = bench.commands.find((c) => c.name() === 'train');
    expect(train?.helpInformation()).toContain('--profile');
    const transport = bench.commands.find((c) => c.name() === 'transport');
    expect(transport?.helpInformation()).toContain('--round-trips');
  });
});

describe('bench transport', () => {
  it('times zeromq and raw Unix socket round trips to a Python echo, and msgpack in Node', async () => {
    const r = await benchTransport({ roundTrips: 300, replyBytes: 180 });
    expect(r.roundTrips).toBe(300);
    for (const s of [r.zmqIpc, r.unixSocket]) {
      expect(s.p50Us).toBeGreaterThan(0);
      expect(s.p95Us).toBeGreaterThanOrEqual(s.p50Us);
    }
    expect(r.requestBytes).toBeGreaterThan(30);
    expect(r.msgpackUs.encodeRequest).toBeGreaterThan(0);
    expect(r.msgpackUs.decodeReply).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a reply size past its bound before starting anything', async () => {
    await expect(benchTransport({ roundTrips: 10, replyBytes: 2 ** 21 })).rejects.toThrow(/--reply-bytes/);
  });
});
