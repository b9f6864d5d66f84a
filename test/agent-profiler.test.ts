// The agents' public profiling hook (TrainableAgent.profiler): the phases it sees, their results
// passed through unchanged, and nothing different when it is unset.
import { describe, expect, it } from 'vitest';
import { A2C, a2cSchema } from '../agents/a2c.js';
import { DQN, dqnSchema } from '../agents/dqn.js';
import type { AgentContext, AgentPhase, AgentProfiler } from '../src/agent.js';
import { scriptedEnv } from '../src/training/scripted-env.js';
import { Rng } from '../src/util/rng.js';

function context(numEnvs: number): AgentContext {
  const rng = new Rng(3);
  return {
    env: scriptedEnv({
      numEnvs,
      shape: [4],
      dtype: 'float32',
      nActions: 2,
      observe: (o) => {
        for (let i = 0; i < o.length; i++) o[i] = rng.next() - 0.5;
      },
      reward: () => 1,
      terminated: () => rng.next() < 0.05,
    }),
    rng: new Rng(1),
    seeds: { init: 1 },
    torso: { kind: 'mlp' },
    // Past exploration: DQN acts greedily (epsilon = epsEnd) so its act phase runs.
    progress: () => 1,
    onStep: () => {},
  };
}

/** Records each phase and the type of its result. */
function recorder(): AgentProfiler & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    phase<T>(name: AgentPhase, fn: () => T): T {
      const r = fn();
      seen.push(`${name}:${r instanceof Int32Array ? 'actions' : typeof r}`);
      return r;
    },
  };
}

async function dqnLosses(profiled: boolean): Promise<{ losses: number[]; seen: string[] }> {
  const agent = new DQN(context(1), dqnSchema.parse({ learningStarts: 40, bufferSize: 500, batchSize: 8 }));
  const p = recorder();
  if (profiled) agent.profiler = p;
  await agent.resetEnvs(1);
  const losses: number[] = [];
  for (let i = 0; i < 80; i++) {
    const it = await agent.iterate();
    if (it.updates > 0) losses.push(it.scalars.loss);
  }
  agent.dispose();
  return { losses, seen: p.seen };
}

describe('agent profiling hook', () => {
  it('DQN hands its greedy actions and its updates to the profiler, and learns the same with it', async () => {
    const withHook = await dqnLosses(true);
    expect(withHook.seen).toContain('act:actions');
    expect(withHook.seen.filter((s) => s === 'update:object').length).toBe(withHook.losses.length);
    expect(withHook.losses.length).toBeGreaterThan(5);
    expect(new Set(withHook.seen)).toEqual(new Set(['act:actions', 'update:object']));
    const without = await dqnLosses(false);
    expect(without.seen).toEqual([]);
    expect(without.losses).toEqual(withHook.losses);
  });

  it('A2C hands one update per iteration to the profiler', async () => {
    const agent = new A2C(context(4), a2cSchema.parse({ numEnvs: 4 }));
    const p = recorder();
    agent.profiler = p;
    await agent.resetEnvs(1);
    for (let i = 0; i < 3; i++) await agent.iterate();
    expect(p.seen).toEqual(['update:object', 'update:object', 'update:object']);
    agent.dispose();
  });
});
