// `coordrl bench train` (src/bench/train.ts): the command's options and its output.

import { type Command, Option } from 'commander';
import { ALGOS, DEFAULT_ALGO } from '../algorithms/registry.js';
import { type BenchTrainOptions, benchTrain, formatBenchTrain } from '../bench/train.js';
import { PRECISIONS } from '../compiled/precision.js';
import { parseCount, positiveNumber } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerBenchTrain(bench: Command): void {
  bench
    .command('train')
    .description('env steps per second of a real training loop (env stepping, inference, updates)')
    .addOption(new Option('--algo <name>', 'algorithm').choices([...ALGOS]).default(DEFAULT_ALGO))
    .option('--env <name>', 'environment', 'pong')
    .addOption(new Option('--torso <kind>', 'network torso').choices(['conv', 'coordconv', 'mlp']).default('coordconv'))
    .option('--seconds <s>', 'measured seconds', positiveNumber('--seconds'), 60)
    .option('--warmup <s>', 'seconds before measuring', positiveNumber('--warmup'), 10)
    .option('--num-envs <n>', 'parallel environments (default: the algorithm default)', parseCount('--num-envs'))
    .option(
      '--learning-starts <n>',
      'dqn: transitions before learning, collected during the warm-up so updates are measured',
      parseCount('--learning-starts'),
      1000,
    )
    .option('--pipeline', 'a2c: step the envs in two groups, overlapping env steps with inference (default: off)')
    .option('--no-pipeline', 'a2c: step all envs together')
    .option(
      '--profile',
      'time each part of an env step (act, env round trip, replay, update, session runs, GC, the server side)',
    )
    .addOption(
      new Option('--precision <p>', "the compiled graphs' arithmetic (bf16: bfloat16 mixed precision)").choices([
        ...PRECISIONS,
      ]),
    )
    .addOption(jsonOption())
    .action(async (o: Omit<BenchTrainOptions, 'onMeasureStart' | 'onMeasureEnd'> & { json?: boolean }) => {
      const r = await benchTrain(o);
      printResult(Boolean(o.json), r, () => formatBenchTrain(r));
    });
}
