// MinAtar as a target: the env client against a real server (spaces, options, seeds, same-step
// autoreset, raw returns), the preset and network chosen for MinAtar names, and DQN's replay keeping
// MinAtar's object channels whole.
import { beforeAll, describe, expect, test } from 'vitest';
import { DQN } from '../agents/dqn.js';
import { BridgeError, makeVecEnv, type StepResult } from '../envs/index.js';
import type { AgentEnv } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { frameSkipFor, isAtari, isImageEnv, isMinAtar } from '../src/config.js';
import { makeReplayBuffer } from '../src/replay/index.js';
import { type DQNRunConfig, resolveRunConfig } from '../src/run-config.js';
import { humanNormalized } from '../src/stats/atari-scores.js';
import { MINATAR_GAMES, minatarGame, minatarNormalized, minatarScores } from '../src/stats/minatar-scores.js';
import { normalizationOf, normalizedScore } from '../src/stats/reference-scores.js';
import { estimateRunMemory } from '../src/training/memory.js';
import { resolveTorso } from '../src/training/run.js';
import { UsageError } from '../src/util/cli-errors.js';
import { Rng } from '../src/util/rng.js';

describe('MinAtar through the bridge', () => {
  test('spaces and options; seeds reproduce frames; episodes end with their raw returns', async () => {
    const make = () =>
      makeVecEnv({ env: 'minatar/breakout', numEnvs: 4, groups: 2, minatar: { stickyActionProb: 0.1 } });
    const [a, b] = [await make(), await make()];
    try {
      expect(a.kind).toBe('minatar');
      expect(a.envId).toBe('breakout');
      expect(a.observationSpace).toMatchObject({ shape: [10, 10, 4], dtype: 'uint8', layout: 'NHWC', frameStack: 1 });
      expect(a.actionSpace.meanings).toEqual(['NOOP', 'LEFT', 'RIGHT']);
      expect(a.groups[0].options).toMatchObject({ stickyActionProb: 0.1, difficultyRamping: true });
      const [ra, rb] = [await a.reset(11), await b.reset(11)];
      expect(Array.from(ra.obs)).toEqual(Array.from(rb.obs));
      expect(ra.lives).toBeNull();
      const rng = new Rng(5);
      const actions = new Int32Array(4);
      const running = [0, 0, 0, 0];
      const episodes: StepResult['episodes'] = [];
      for (let t = 0; t < 400; t++) {
        for (let i = 0; i < 4; i++) actions[i] = rng.int(3);
        const [sa, sb] = [await a.step(actions), await b.step(actions)];
        expect(Buffer.from(sa.obs).equals(Buffer.from(sb.obs))).toBe(true);
        for (let i = 0; i < 4; i++) {
          running[i] += sa.rewards[i];
          expect(sa.finalObs.has(i)).toBe(sa.terminated[i] === 1);
        }
        for (const ep of sa.episodes) {
          expect(ep.score).toBe(running[ep.env]);
          running[ep.env] = 0;
        }
        episodes.push(...sa.episodes);
      }
      expect(episodes.length).toBeGreaterThan(5);
      expect(episodes.some((e) => e.score > 0)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);

  test('NCHW on request, the full action set, and clear errors for unknown games and options', async () => {
    const env = await makeVecEnv({
      env: 'MinAtar/SpaceInvaders-v1',
      numEnvs: 1,
      layout: 'NCHW',
      minatar: { fullActionSpace: true },
    });
    try {
      expect(env.observationSpace.shape).toEqual([6, 10, 10]);
      expect(env.actionSpace.n).toBe(6);
    } finally {
      await env.close();
    }
    await expect(makeVecEnv({ env: 'minatar/breakot', numEnvs: 1 })).rejects.toThrow(/did you mean: minatar\/breakout/);
    await expect(
      makeVecEnv({ env: 'breakout-minatar', numEnvs: 1, minatar: { stickyActionProb: 3 } }),
    ).rejects.toBeInstanceOf(BridgeError);
  }, 60_000);
});

describe('MinAtar configuration', () => {
  test('names are MinAtar, not Atari: images, one frame per step', () => {
    for (const e of ['minatar/breakout', 'MinAtar/Breakout-v1', 'breakout-minatar']) {
      expect(isMinAtar(e)).toBe(true);
      expect(isAtari(e)).toBe(false);
      expect(isImageEnv(e)).toBe(true);
      expect(frameSkipFor(e)).toBe(1);
    }
    expect(isMinAtar('breakout')).toBe(false);
    expect(isAtari('breakout')).toBe(true);
  });

  test('the DQN preset is the MinAtar paper, saved with the run; flags and files still override it', () => {
    const c = resolveRunConfig({ algo: 'dqn', env: 'minatar/breakout' });
    expect(c).toMatchObject({
      torso: 'coordconv',
      arch: 'minatar',
      stickyActions: 0.1,
      difficultyRamping: true,
      batchSize: 32,
      bufferSize: 100_000,
      targetUpdateInterval: 1000,
      trainFreq: 1,
      learningStarts: 5000,
      epsStart: 1,
      epsEnd: 0.1,
      explorationSteps: 100_000,
      optimizer: 'centered-rmsprop',
      lr: 2.5e-4,
      rmsDecay: 0.95,
      // examples/dqn.py's torch.optim.RMSprop gets no momentum (torch's default 0; kenjyoung/MinAtar#37)
      rmsMomentum: 0,
      optimEps: 0.01,
      gamma: 0.99,
      clipRewards: false,
      maxGradNorm: 0,
      // dqn.py keeps PyTorch's default initialisation of nn.Conv2d and nn.Linear
      init: 'torch',
    });
    const o = resolveRunConfig({ algo: 'dqn', env: 'minatar/breakout', lr: 1e-3, stickyActions: 0, torso: 'conv' });
    expect([o.lr, o.stickyActions, o.torso, o.optimizer]).toEqual([1e-3, 0, 'conv', 'centered-rmsprop']);
    // Atari keeps its own defaults
    const p = resolveRunConfig({ algo: 'dqn', env: 'pong' });
    expect([p.optimizer, p.stickyActions, p.arch, p.learningStarts]).toEqual(['adam', 0.25, 'nature', 100_000]);
    const a2c = resolveRunConfig({ algo: 'a2c', env: 'minatar/seaquest' });
    expect([a2c.numEnvs, a2c.clipRewards, a2c.stickyActions]).toEqual([16, false, 0.1]);
    // RMSprop's epsilon 1e-8 and lr 3e-3: what makes asterix and freeway learn (docs/minatar.md, A2C)
    expect([a2c.lr, a2c.rmsEpsilon]).toEqual([3e-3, 1e-8]);
    const a2cFlags = resolveRunConfig({ algo: 'a2c', env: 'minatar/seaquest', rmsEpsilon: 1e-5, lr: 7e-4 });
    expect([a2cFlags.lr, a2cFlags.rmsEpsilon]).toEqual([7e-4, 1e-5]);
    // Atari's A2C keeps SB3's settings
    const a2cPong = resolveRunConfig({ algo: 'a2c', env: 'pong' });
    expect([a2cPong.lr, a2cPong.rmsEpsilon]).toEqual([7e-4, 1e-5]);
  });

  test('the network follows the input: MinAtar for 10x10, Nature refused there with a hint', () => {
    const c = resolveRunConfig({ algo: 'a2c', env: 'minatar/breakout', withR: true });
    expect(resolveTorso(c, [10, 10, 4])).toMatchObject({ kind: 'coordconv', arch: 'minatar', withR: true });
    const nature = resolveRunConfig({ algo: 'a2c', env: 'minatar/breakout', arch: 'nature' });
    expect(() => resolveTorso(nature, [10, 10, 4])).toThrow(UsageError);
    expect(() => resolveTorso(nature, [10, 10, 4])).toThrow(/--arch minatar/);
    const pong = resolveRunConfig({ algo: 'a2c', env: 'pong' });
    expect(resolveTorso(pong, [84, 84, 4]).arch).toBe('nature');
  });
});

describe('DQN replay on MinAtar', () => {
  test('stores each observation whole (its channels are objects, not a frame stack)', () => {
    const space = { shape: [10, 10, 4], dtype: 'uint8' as const, frameStack: 1 };
    const replay = makeReplayBuffer({ observationSpace: space, numEnvs: 1, capacity: 100 });
    const rng = new Rng(1);
    const obs = Array.from({ length: 6 }, () => new Uint8Array(400).map(() => (rng.next() < 0.2 ? 1 : 0)));
    for (let t = 0; t < 5; t++) {
      replay.add({
        obs: obs[t],
        actions: Int32Array.of(t % 3),
        rewards: Float32Array.of(t),
        terminated: Uint8Array.of(0),
        truncated: Uint8Array.of(0),
        nextObs: obs[t + 1],
      });
    }
    const b = replay.sample(16, rng);
    for (let j = 0; j < 16; j++) {
      const t = b.rewards[j];
      expect(Array.from(b.obs.subarray(j * 400, (j + 1) * 400))).toEqual(Array.from(obs[t]));
      expect(Array.from(b.nextObs.subarray(j * 400, (j + 1) * 400))).toEqual(Array.from(obs[t + 1]));
    }
  });
});

test('the memory estimate counts whole MinAtar observations in the replay', () => {
  const config = resolveRunConfig({ algo: 'dqn', env: 'minatar/breakout' });
  const replay = (frameStack?: number) =>
    estimateRunMemory(config, { shape: [10, 10, 4], dtype: 'uint8', frameStack }, 1000).parts.find(
      (p) => p.name === 'replay buffer',
    )?.bytes as number;
  expect(replay(1)).toBe(100_000 * (400 + 12));
  expect(replay(undefined)).toBe(100_000 * (100 + 12)); // Atari-style: one frame per slot
});

describe("DQN's MinAtar exploration schedule", () => {
  beforeAll(async () => {
    await initBackend('auto');
  });
  test('uniformly random until learning starts, then epsilon 1 -> 0.1 over 100k transitions', () => {
    const config = resolveRunConfig({ algo: 'dqn', env: 'minatar/breakout', bufferSize: 1000 }) as DQNRunConfig;
    const env = {
      numEnvs: 1,
      observationSpace: { shape: [10, 10, 4], dtype: 'uint8', size: 400, frameStack: 1 },
      actionSpace: { n: 3 },
    };
    const dqn = new DQN(
      {
        env: env as unknown as AgentEnv,
        rng: new Rng(1),
        seeds: { init: 1 },
        torso: resolveTorso(config, [10, 10, 4]),
        progress: () => 0.9, // the budget fraction plays no part with explorationSteps
        onStep: () => {},
      },
      config,
    );
    const at = (transitions: number) => {
      dqn.restoreCounters({ transitions });
      return dqn.epsilon();
    };
    try {
      expect(at(0)).toBe(1);
      expect(at(5000)).toBe(1);
      expect(at(5000 + 50_000)).toBeCloseTo(0.55, 12);
      expect(at(105_000)).toBeCloseTo(0.1, 12);
      expect(at(1_000_000)).toBeCloseTo(0.1, 12);
    } finally {
      dqn.dispose();
    }
  });
});

describe('MinAtar scores', () => {
  test('every spelling finds its game; Atari names and unknown games do not', () => {
    expect(minatarGame('minatar/space_invaders')).toBe('space_invaders');
    expect(minatarGame('MinAtar/SpaceInvaders-v1')).toBe('space_invaders');
    expect(minatarGame('breakout-minatar')).toBe('breakout');
    expect(minatarGame('breakout')).toBeNull();
    expect(minatarGame('minatar/pong')).toBeNull();
    for (const g of MINATAR_GAMES) expect(minatarScores(`minatar/${g}`)?.random).toBeGreaterThan(0);
  });

  test("MinAtar Breakout gets the paper's DQN as its reference, never Atari Breakout's human one", () => {
    expect(normalizationOf('pong')).toBe('human');
    expect(normalizedScore('breakout', 30.5)).toBeCloseTo(humanNormalized('breakout', 30.5) as number, 12);
    expect(normalizationOf('minatar/breakout')).toBe('minatar');
    // the paper's DQN at 5M frames (read off its figure, docs/minatar.md) is 1, random play 0
    const ref = minatarScores('minatar/breakout') as { random: number; reference: number };
    expect(ref.reference).toBe(10.0);
    expect(minatarNormalized('MinAtar/Breakout-v1', ref.reference)).toBeCloseTo(1, 12);
    expect(minatarNormalized('breakout-minatar', ref.random)).toBeCloseTo(0, 12);
    expect(normalizedScore('minatar/breakout', 30.5)).toBeCloseTo((30.5 - 0.38) / (10 - 0.38), 12);
    for (const g of MINATAR_GAMES) {
      const r = minatarScores(`minatar/${g}`);
      expect(r?.reference).toBeGreaterThan(r?.random as number);
    }
    expect(minatarNormalized('pong', 10)).toBeNull();
  });
});
