// The compiled updates are built from the same operations, in the same order and with the same
// attributes, as before the losses moved into the agents over src/ops (main @221f0db): a hash of
// every op each agent adds to its graphs (type, inputs, attributes, control inputs), for A2C on the
// MLP and on the CoordConv MinAtar net, and DQN plain, Double + dueling unclipped, and with both
// centered RMSprops. A change to a graph, wanted or not, shows here first; when it is wanted (a new
// loss term, another optimizer kernel), check the baseline hashes and update the expected values.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, TrainableAgent } from '../src/agent.js';
import { initBackend } from '../src/backend.js';
import { Graph } from '../src/compiled/graph.js';
import type { TorsoOptions } from '../src/torsos.js';
import { scriptedEnv } from '../src/training/scripted-env.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('tensorflow');
});

type Attr = Parameters<Graph['op']>[2] extends readonly (infer A)[] | undefined ? A : never;
const log: string[] = [];
const op = Graph.prototype.op;
Graph.prototype.op = function (this: Graph, type, inputs, attrs = [], control = []) {
  const idx = op.call(this, type, inputs, attrs, control);
  const plain = (attrs as Attr[]).map(([k, kind, v]) => {
    const t = v as readonly [number, readonly number[], ArrayLike<number>];
    return [k, kind, kind === 'tensor' ? [t[0], t[1], Array.from(t[2])] : v];
  });
  log.push(JSON.stringify([idx, type, inputs, plain, control]));
  return idx;
};

function context(shape: number[], dtype: 'uint8' | 'float32', numEnvs: number, torso: TorsoOptions): AgentContext {
  const env = scriptedEnv({
    numEnvs,
    shape,
    dtype,
    nActions: 3,
    observe: (o, t) => {
      for (let i = 0; i < o.length; i++) o[i] = dtype === 'uint8' ? ((i * 7 + t * 13) % 256) % 2 : Math.sin(i + t);
    },
    reward: (a, i, t) => ((a + i + t) % 3) - 1,
    terminated: (i, t) => (t + i) % 7 === 0,
  });
  return { env, rng: new Rng(7), seeds: { init: 3 }, torso, progress: () => 0, onStep: () => {} };
}

/** The hash of the ops an agent adds in `iterations` iterations (inference and update graphs). */
async function fingerprint(agent: TrainableAgent, iterations: number): Promise<string> {
  log.length = 0;
  await agent.resetEnvs(1);
  for (let i = 0; i < iterations; i++) await agent.iterate();
  agent.dispose();
  return `${log.length} ${createHash('sha256').update(log.join('\n')).digest('hex').slice(0, 16)}`;
}

const mlp: TorsoOptions = { kind: 'mlp' };
const minatar: TorsoOptions = { kind: 'coordconv', arch: 'minatar' };

describe('compiled graphs, op for op', () => {
  it.each([
    ['MLP', [4], 'float32', mlp, {}, '212 a76ebecd457e3e84'],
    [
      'CoordConv MinAtar net',
      [10, 10, 4],
      'uint8',
      minatar,
      { entCoef: 0.02, maxGradNorm: 0.3 },
      '240 5a991cc6c45ec02d',
    ],
  ] as const)(
    'A2C, %s',
    async (_, shape, dtype, torso, hp, expected) => {
      const agent = new A2C(context([...shape], dtype, 4, torso), a2cSchema.parse({ numEnvs: 4, ...hp }));
      expect(await fingerprint(agent, 2)).toBe(expected);
    },
    60_000,
  );

  it.each([
    ['MLP, Adam', [4], 'float32', mlp, {}, '203 6a296627d0121f45'],
    [
      'Double + dueling, unclipped',
      [5],
      'float32',
      { kind: 'mlp', activation: 'relu' },
      { double: true, dueling: true, maxGradNorm: 0 },
      '259 75d434e73a3a14d6',
    ],
    [
      'centered RMSprop, PyTorch form, MinAtar net',
      [10, 10, 4],
      'uint8',
      minatar,
      { optimizer: 'centered-rmsprop', rmsMomentum: 0.9 },
      '368 3b56934b9bd8e3bd',
    ],
    [
      'centered RMSprop, TensorFlow form',
      [4],
      'float32',
      mlp,
      { optimizer: 'centered-rmsprop-tf' },
      '225 34d95ac3796d382a',
    ],
  ] as const)(
    'DQN, %s',
    async (_, shape, dtype, torso, hp, expected) => {
      const agent = new DQN(
        context([...shape], dtype, 2, torso as TorsoOptions),
        dqnSchema.parse({ learningStarts: 16, bufferSize: 100, batchSize: 8, trainFreq: 1, ...hp }),
      );
      expect(await fingerprint(agent, 14)).toBe(expected);
    },
    60_000,
  );
});
