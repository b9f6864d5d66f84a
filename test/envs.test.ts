// The env client against a real Python server: CartPole and Pong episodes, same-step autoreset,
// raw scores, frames identical to ale-py's own AtariVectorEnv, seeds, errors.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { BridgeError, bridgeDir, defaultPython, liveChildren, makeVecEnv, type StepResult } from '../envs/index.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(tmpdir(), 'coordrl-envs-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic actions (xorshift). */
function actionStream(seed: number, n: number): (out: Int32Array) => Int32Array {
  let s = seed | 1;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = (s >>> 0) % n;
    }
    return out;
  };
}

describe('CartPole through the bridge', () => {
  test('spaces, same-step autoreset, episode lengths and scores, two groups', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 4, groups: 2 });
    try {
      expect(env.kind).toBe('gym');
      expect(env.observationSpace).toMatchObject({ shape: [4], dtype: 'float32', layout: 'flat', size: 4 });
      expect(env.actionSpace.n).toBe(2);
      expect(env.groups.map((g) => g.numEnvs)).toEqual([2, 2]);
      const first = await env.reset(3);
      expect(first.obs).toBeInstanceOf(Float32Array);
      expect(first.obs.length).toBe(16);
      const lengths = new Array(4).fill(0);
      const episodes: StepResult['episodes'] = [];
      const push = new Int32Array(4).fill(1); // always push right: episodes end in ~10-60 steps
      for (let t = 0; t < 400 && episodes.length < 8; t++) {
        const r = await env.step(push);
        expect(r.restarted).toBe(false);
        expect(Array.from(r.rewards)).toEqual([1, 1, 1, 1]);
        for (let i = 0; i < 4; i++) {
          lengths[i]++;
          const ended = r.terminated[i] === 1 || r.truncated[i] === 1;
          expect(r.finalObs.has(i)).toBe(ended);
          if (!ended) continue;
          // same-step autoreset: obs[i] already starts the next episode, finalObs holds the fall
          const next = r.obs.subarray(i * 4, i * 4 + 4);
          for (const x of next) expect(Math.abs(x)).toBeLessThan(0.06);
          const last = r.finalObs.get(i)!;
          expect(Math.abs(last[2]) > 0.2 || Math.abs(last[0]) > 2.4).toBe(true);
          const ep = r.episodes.find((e) => e.env === i);
          expect(ep).toBeDefined();
          expect(ep!.length).toBe(lengths[i]);
          expect(ep!.score).toBe(lengths[i]);
          lengths[i] = 0;
        }
        episodes.push(...r.episodes);
      }
      expect(episodes.length).toBeGreaterThanOrEqual(8);
      expect(new Set(episodes.map((e) => e.env)).size).toBe(4); // slots of both groups report
    } finally {
      await env.close();
    }
  });

  test('same seed and actions give the same observations', async () => {
    const a = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 3 });
    const b = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 3, groups: 3 });
    try {
      expect(Array.from((await a.reset(11)).obs)).toEqual(Array.from((await b.reset(11)).obs));
      const next = actionStream(5, 2);
      const act = new Int32Array(3);
      for (let t = 0; t < 50; t++) {
        next(act);
        const [ra, rb] = [await a.step(act), await b.step(act)];
        expect(Array.from(ra.obs)).toEqual(Array.from(rb.obs));
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('Pong through the bridge', () => {
  test('a whole game: raw score in [-21, 21] equal to the sum of raw rewards', async () => {
    const env = await makeVecEnv({ env: 'ALE/Pong-v5', numEnvs: 2, groups: 2 });
    try {
      expect(env.envId).toBe('pong');
      expect(env.observationSpace).toMatchObject({ shape: [84, 84, 4], dtype: 'uint8', layout: 'NHWC', size: 28224 });
      expect(env.actionSpace.meanings).toEqual(['NOOP', 'FIRE', 'RIGHT', 'LEFT', 'RIGHTFIRE', 'LEFTFIRE']);
      const r0 = await env.reset(0);
      expect(r0.obs).toBeInstanceOf(Uint8Array);
      expect(r0.obs.length).toBe(2 * 28224);
      const sums = [0, 0];
      const steps = [0, 0];
      const next = actionStream(1, 6);
      const act = new Int32Array(2);
      let game: { score: number; length: number; sum: number; truncated: boolean } | null = null;
      for (let t = 0; t < 3000 && !game; t++) {
        const r = await env.step(next(act));
        for (let i = 0; i < 2; i++) {
          expect([-1, 0, 1]).toContain(r.rewards[i]);
          sums[i] += r.rewards[i];
          steps[i]++;
        }
        expect(r.lives).toBeInstanceOf(Int32Array);
        for (const ep of r.episodes) {
          expect(r.terminated[ep.env] || r.truncated[ep.env]).toBe(1);
          expect(r.finalObs.get(ep.env)?.length).toBe(28224);
          game = { score: ep.score, length: ep.length, sum: sums[ep.env], truncated: ep.truncated };
          expect(ep.length).toBe(steps[ep.env]);
        }
      }
      expect(game).not.toBeNull();
      expect(game!.truncated).toBe(false);
      expect(game!.score).toBe(game!.sum);
      expect(Math.abs(game!.score)).toBeLessThanOrEqual(21);
      expect(game!.score).toBeLessThan(0); // random play loses (raw points, not clipped per step sums)
    } finally {
      await env.close();
    }
  });

  test('frames through the bridge equal AtariVectorEnv frames for the same seed and actions', async () => {
    const N = 4;
    const T = 160;
    const seed = 123;
    const frame = 84 * 84 * 4;
    const atari = { maxNumFramesPerEpisode: 240 }; // time limit every 60 steps: autoresets in the comparison
    const env = await makeVecEnv({ env: 'pong', numEnvs: N, groups: 2, atari });
    const actions = new Int32Array(T * N);
    const bridgeObs = new Uint8Array((T + 1) * N * frame);
    const bridgeRewards = new Float32Array(T * N);
    let truncations = 0;
    try {
      bridgeObs.set((await env.reset(seed)).obs, 0);
      const next = actionStream(7, env.actionSpace.n);
      for (let t = 0; t < T; t++) {
        const act = next(actions.subarray(t * N, (t + 1) * N));
        const r = await env.step(act);
        bridgeObs.set(r.obs, (t + 1) * N * frame);
        bridgeRewards.set(r.rewards, t * N);
        truncations += r.truncated.reduce((a, b) => a + b, 0);
      }
    } finally {
      await env.close();
    }
    expect(truncations).toBeGreaterThanOrEqual(N * 2);
    const actFile = path.join(tmp, 'actions.bin');
    const outFile = path.join(tmp, 'frames.bin');
    writeFileSync(actFile, actions);
    const args = ['-m', 'coordrl_bridge.tools', 'dump-frames', '--env', 'pong', '--num-envs', String(N)];
    args.push('--seed', String(seed), '--actions', actFile, '--out', outFile, '--options', JSON.stringify(atari));
    await run(defaultPython(), args, { cwd: bridgeDir() });
    const raw = new Uint8Array(readFileSync(outFile)); // NCHW, one AtariVectorEnv of N envs
    const rawRewards = new Float32Array(new Uint8Array(readFileSync(`${outFile}.rewards`)).buffer);
    expect(raw.length).toBe(bridgeObs.length);
    expect(Array.from(rawRewards)).toEqual(Array.from(bridgeRewards));
    // NHWC (bridge) vs NCHW (raw): compare every pixel of every frame
    let mismatches = 0;
    for (let k = 0; k < (T + 1) * N; k++) {
      const b = k * frame;
      for (let c = 0; c < 4; c++) {
        for (let p = 0; p < 84 * 84; p++) {
          if (bridgeObs[b + p * 4 + c] !== raw[b + c * 84 * 84 + p]) mismatches++;
        }
      }
    }
    expect(mismatches).toBe(0);
  });

  test('NCHW layout on request', async () => {
    const env = await makeVecEnv({ env: 'breakout', numEnvs: 1, layout: 'NCHW' });
    try {
      expect(env.observationSpace).toMatchObject({ shape: [4, 84, 84], layout: 'NCHW' });
      expect(env.actionSpace.n).toBe(4);
      const r = await env.reset(0);
      expect(r.obs.length).toBe(28224);
      expect(Array.from(r.lives!)).toEqual([5]);
    } finally {
      await env.close();
    }
  });
});

describe('errors', () => {
  test('an unknown game fails with close matches and leaves no server behind', async () => {
    const before = liveChildren();
    const err = await makeVecEnv({ env: 'pongg', numEnvs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe('unknown_env');
    expect((err as BridgeError).message).toContain('did you mean: pong');
    expect((err as BridgeError).details.suggestions).toContain('pong');
    expect(liveChildren()).toBe(before);
  });

  test('bad options are reported by name', async () => {
    const err = await makeVecEnv({ env: 'pong', numEnvs: 1, atari: { frameskip: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).message).toContain('frameskip');
  });

  test('actions are checked: wrong length locally, out of range by the server', async () => {
    const env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 2 });
    try {
      await env.reset(0);
      expect(() => env.stepAsync(new Int32Array(3))).toThrow(/length 2/);
      const err = await env.step(Int32Array.from([0, 7])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BridgeError);
      expect((err as BridgeError).code).toBe('bad_actions');
      expect((await env.step(Int32Array.from([0, 1]))).obs.length).toBe(8); // still serving
    } finally {
      await env.close();
    }
  });
});
