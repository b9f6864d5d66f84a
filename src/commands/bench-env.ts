// `coordrl bench env` (src/bench/env.ts): the command's options, checked, and its output.
import type { Command } from 'commander';
import type { AtariOptions } from '../../envs/types.js';
import { benchEnv, formatBenchEnv } from '../bench/env.js';
import { positiveInt, positiveNumber, UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerBenchEnv(bench: Command): void {
  bench
    .command('env')
    .description(
      'env steps/s through the Python bridge vs. the raw vector env in Python (random actions), and round-trip latency',
    )
    .option('--env <name>', "game or Gymnasium id: pong, breakout, ALE/MsPacman-v5, 'CartPole-v1', ...", 'pong')
    .option('--num-envs <n>', 'parallel envs', positiveInt('--num-envs'), 8)
    .option('--seconds <s>', 'seconds of stepping for each of raw and bridge', positiveNumber('--seconds'), 10)
    .option(
      '--groups <n>',
      'env groups of the bridge run; more than 1 steps them alternately (double buffering, overlaps agent work)',
      positiveInt('--groups'),
      1,
    )
    .option(
      '--rounds <n>',
      'alternate raw and bridge runs this many times (shared machines are noisy)',
      positiveInt('--rounds'),
      2,
    )
    .option('--layout <layout>', 'observation layout through the bridge: NHWC (TensorFlow) or NCHW (ale-py)', 'NHWC')
    .option(
      '--threads <n>',
      'ALE threads per env group (default: cores / groups; raw run: all cores)',
      positiveInt('--threads'),
    )
    .option('--sticky <p>', 'sticky-action probability (ALE v5: 0.25)', Number.parseFloat, 0.25)
    .option('--pings <n>', 'tiny round trips to time', positiveInt('--pings'), 1000)
    .option(
      '--agent-ms <ms>',
      'busy CPU time per group step, as an agent would spend (0: pure env throughput)',
      Number.parseFloat,
      0,
    )
    .addOption(jsonOption())
    .action(
      async (o: {
        env: string;
        numEnvs: number;
        seconds: number;
        groups: number;
        rounds: number;
        layout: string;
        threads?: number;
        sticky: number;
        pings: number;
        agentMs: number;
        json?: boolean;
      }) => {
        if (!(o.agentMs >= 0)) throw new UsageError(`--agent-ms must be >= 0, got ${o.agentMs}`);
        if (o.layout !== 'NHWC' && o.layout !== 'NCHW')
          throw new UsageError(`--layout must be NHWC or NCHW, got ${o.layout}`);
        if (!(o.sticky >= 0 && o.sticky <= 1)) throw new UsageError(`--sticky must be in [0, 1], got ${o.sticky}`);
        const atari: AtariOptions = { repeatActionProbability: o.sticky };
        if (o.threads !== undefined) atari.numThreads = o.threads;
        const { threads, sticky, json, ...rest } = o;
        const r = await benchEnv({ ...rest, layout: o.layout, atari });
        printResult(Boolean(o.json), r, () => formatBenchEnv(r));
      },
    );
}
