// bf16 mixed precision in the compiled updates (src/compiled/precision.ts, model-graph.ts): a bf16
// update from the same weights and batch as an fp32 one gives the same loss, gradient norm and
// weight step to within bfloat16's ~3 significant digits, while differing from fp32 by more than
// fp32 round-off (so bf16 really ran); the losses stay fp32; inference stays fp32.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, AgentEnv, TrainableAgent } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { compiledAvailability } from '../src/compiled/graph.js';
import { cpuBf16Support, type Precision } from '../src/compiled/precision.js';
import { setCompiledPrecision, usablePrecision } from '../src/compiled/runtime.js';
import { resolveRunConfig } from '../src/run-config.js';
import type { TorsoOptions } from '../src/torsos.js';
import { Rng } from '../src/util/rng.js';
import { fakeEnv } from './helpers/fake-env.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});
afterEach(() => {
  delete process.env.COORDRL_NO_COMPILED;
  vi.restoreAllMocks();
});

/** A deterministic env of uint8 frames (a function of the step count). */
const frameEnv = (shape: number[], numEnvs: number, nActions: number) => fakeEnv(shape, 'uint8', numEnvs, nActions);

const TORSO: TorsoOptions = { kind: 'conv', hidden: [64] };
const SHAPE = [84, 84, 4];

type Updatable = { update(...args: unknown[]): Record<string, number> };

function context(env: AgentEnv): AgentContext {
  return { env, rng: new Rng(7), seeds: { init: 3 }, torso: TORSO, progress: () => 0, onStep: () => {} };
}

function modelWeights(agent: TrainableAgent): Float32Array[] {
  const model = Object.values(agent.checkpointParts().models)[0];
  return model.getWeights().map((t) => (t.dataSync() as Float32Array).slice());
}

/** One DQN update (Nature CNN, uint8 frames) at `precision`: its scalars and the weight step it took. */
async function dqnStep(precision: Precision) {
  const env = frameEnv(SHAPE, 2, 4);
  setCompiledPrecision(env, precision);
  const agent = new DQN(context(env), dqnSchema.parse({ learningStarts: 64, bufferSize: 200, batchSize: 32 }));
  await agent.resetEnvs(1);
  // epsilon 1 (progress 0): random actions, so every agent's replay holds the same transitions.
  for (let i = 0; i < 40; i++) await agent.iterate();
  const before = modelWeights(agent);
  const scalars = (agent as unknown as Updatable).update();
  const after = modelWeights(agent);
  const compiled = (agent as unknown as { compiledUpdate: unknown }).compiledUpdate !== 'eager';
  agent.dispose();
  return { scalars, step: after.map((w, i) => w.map((x, j) => x - before[i][j])), compiled };
}

/** One A2C update (Nature CNN, batch 80) at `precision`. */
function a2cStep(precision: Precision) {
  const env = frameEnv(SHAPE, 16, 4);
  setCompiledPrecision(env, precision);
  const agent = new A2C(context(env), a2cSchema.parse({}));
  const rng = new Rng(2);
  const n = 80;
  const size = SHAPE.reduce((a, b) => a * b, 1);
  const obs = Uint8Array.from({ length: n * size }, () => rng.int(256));
  const actions = Int32Array.from({ length: n }, () => rng.int(4));
  const adv = Float32Array.from({ length: n }, () => rng.next() - 0.5);
  const ret = Float32Array.from({ length: n }, () => rng.next());
  const before = modelWeights(agent);
  const scalars = (agent as unknown as Updatable).update(obs, actions, adv, ret);
  const after = modelWeights(agent);
  agent.dispose();
  return { scalars, step: after.map((w, i) => w.map((x, j) => x - before[i][j])) };
}

/** Whether x is exactly a bfloat16 value (at most 8 significant bits). */
const isBf16Value = (x: number) => {
  const f = new Float32Array([x]);
  return (new Uint32Array(f.buffer)[0] & 0xffff) === 0;
};

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-6, Math.abs(b));

/** Cosine similarity and norm ratio of two weight steps (all tensors as one vector). */
function compareSteps(a: Float32Array[], b: Float32Array[]): { cosine: number; normRatio: number } {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) {
      dot += x[j] * b[i][j];
      na += x[j] * x[j];
      nb += b[i][j] * b[i][j];
    }
  });
  return { cosine: dot / Math.sqrt(na * nb), normRatio: Math.sqrt(na / nb) };
}

describe('bf16 mixed precision (compiled graphs)', () => {
  it('reads bf16 support from the CPU flags', () => {
    expect(cpuBf16Support('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n')).toBe('amx_bf16');
    expect(cpuBf16Support('flags\t\t: fpu avx512f avx512_bf16\n')).toBe('avx512_bf16');
    expect(cpuBf16Support('flags\t\t: fpu sse2 avx2\n')).toBeNull();
    expect(cpuBf16Support(null)).toBeNull();
  });

  it('a precision cannot change once the graph is built', async () => {
    const env = frameEnv([10, 10, 4], 1, 3);
    setCompiledPrecision(env, 'fp32');
    const agent = new DQN(
      { ...context(env), torso: { kind: 'conv', arch: 'minatar' } },
      dqnSchema.parse({ learningStarts: 8, bufferSize: 64, batchSize: 4 }),
    );
    await agent.resetEnvs(1);
    for (let i = 0; i < 12; i++) await agent.iterate();
    (agent as unknown as Updatable).update();
    expect(() => setCompiledPrecision(env, 'bf16')).toThrow(/after the graph was built as fp32/);
    setCompiledPrecision(env, 'fp32'); // the same one is fine
    agent.dispose();
  }, 60_000);

  it('DQN update, Nature CNN: bf16 within bfloat16 tolerance of fp32, and not fp32 (bf16 ran)', async () => {
    expect(compiledAvailability().addon).not.toBeNull();
    const fp32 = await dqnStep('fp32');
    const fp32Again = await dqnStep('fp32');
    const bf16 = await dqnStep('bf16');
    expect(fp32.compiled && bf16.compiled).toBe(true);
    // fp32 twice from the same weights and batch: the same numbers (the comparison below is not noise).
    for (const k of ['loss', 'gradNorm', 'meanQ'])
      expect(relErr(fp32Again.scalars[k], fp32.scalars[k])).toBeLessThan(1e-5);
    for (const k of ['loss', 'gradNorm', 'meanQ'])
      expect(relErr(bf16.scalars[k], fp32.scalars[k]), k).toBeLessThan(0.03);
    const s = compareSteps(bf16.step, fp32.step);
    expect(s.cosine).toBeGreaterThan(0.98);
    expect(Math.abs(s.normRatio - 1)).toBeLessThan(0.05);
    // bfloat16 keeps 8 bits of mantissa: its gradient norm and mean Q differ from fp32's by far more
    // than fp32 round-off. If the flag were ignored they would match to ~1e-6.
    if (cpuBf16Support() !== null) {
      const worst = Math.max(...['gradNorm', 'meanQ'].map((k) => relErr(bf16.scalars[k], fp32.scalars[k])));
      expect(worst).toBeGreaterThan(1e-4);
    }
  }, 120_000);

  it('A2C update, Nature CNN, batch 80: the same', () => {
    const fp32 = a2cStep('fp32');
    const bf16 = a2cStep('bf16');
    for (const k of ['loss', 'gradNorm', 'policyLoss', 'valueLoss', 'entropy']) {
      expect(relErr(bf16.scalars[k], fp32.scalars[k]), k).toBeLessThan(0.03);
    }
    const s = compareSteps(bf16.step, fp32.step);
    expect(s.cosine).toBeGreaterThan(0.98);
    expect(Math.abs(s.normRatio - 1)).toBeLessThan(0.05);
    if (cpuBf16Support() !== null) expect(relErr(bf16.scalars.gradNorm, fp32.scalars.gradNorm)).toBeGreaterThan(1e-4);
    // The losses are fp32 arithmetic on the network's outputs cast back to fp32: not values a
    // bfloat16 holds (8 significant bits), as they were when the whole graph was rewritten.
    for (const k of ['loss', 'policyLoss', 'valueLoss']) expect(isBf16Value(bf16.scalars[k]), k).toBe(false);
  }, 120_000);

  it('inference stays fp32 in a bf16 runtime (the same action values as fp32)', () => {
    const out = (precision: Precision) => {
      const env = frameEnv(SHAPE, 4, 4);
      setCompiledPrecision(env, precision);
      const agent = new A2C(context(env), a2cSchema.parse({}));
      const obs = Uint8Array.from({ length: 4 * 84 * 84 * 4 }, (_, i) => (i * 31) % 256);
      const r = agent.net.forward(obs, 4);
      agent.dispose();
      return Object.values(r).flatMap((a) => Array.from(a));
    };
    expect(out('bf16')).toEqual(out('fp32'));
  }, 60_000);
});

describe('--precision', () => {
  it('is a run setting (default fp32, saved in the config) that --dry-run shows', () => {
    expect(resolveRunConfig({ algo: 'dqn', env: 'pong' }).precision).toBe('fp32');
    expect(resolveRunConfig({ algo: 'a2c', env: 'pong', precision: 'bf16' }).precision).toBe('bf16');
    const cli = path.resolve(__dirname, '..', 'bin', 'coordrl.js');
    const r = spawnSync(process.execPath, [cli, 'train', '--algo', 'dqn', '--precision', 'bf16', '--dry-run'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/network: .*\(compiled graphs in bf16 mixed precision\)/);
    expect(r.stdout).toMatch(/"precision":"bf16"/);
    const bad = spawnSync(process.execPath, [cli, 'train', '--precision', 'fp16', '--dry-run'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/fp32, bf16/);
  }, 60_000);

  it('bf16 on the eager path: a one-line note and fp32', () => {
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((m) => {
      said.push(String(m));
      return true;
    });
    process.env.COORDRL_NO_COMPILED = '1';
    expect(usablePrecision('bf16')).toBe('fp32');
    expect(usablePrecision('fp32')).toBe('fp32');
    expect(said).toEqual([
      expect.stringMatching(/^--precision bf16 ignored: .*COORDRL_NO_COMPILED=1.*; running fp32\n$/),
    ]);
    delete process.env.COORDRL_NO_COMPILED;
    said.length = 0;
    expect(usablePrecision('bf16')).toBe(cpuBf16Support() ? 'bf16' : 'fp32');
    expect(said).toHaveLength(cpuBf16Support() ? 0 : 1);
  });
});
