// `coordrl bench rollout` (src/bench/rollout.ts): the command's options and its output.
import { type Command, Option } from 'commander';
import { benchRollout, formatRolloutProfile } from '../bench/rollout.js';
import { isImageEnv } from '../config.js';
import { TORSO_KINDS } from '../torsos.js';
import { parseCount, positiveNumber } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerBenchRollout(bench: Command): void {
  bench
    .command('rollout')
    .description('where one A2C iteration goes: env server, bridge, inference, bookkeeping, update')
    .option('--env <name>', 'environment', 'CartPole-v1')
    .addOption(
      new Option('--torso <kind>', 'network torso (default: mlp for Gymnasium ids, conv otherwise)').choices(
        TORSO_KINDS,
      ),
    )
    .option('--seconds <s>', 'measured seconds', positiveNumber('--seconds'), 10)
    .option('--warmup <s>', 'seconds before measuring', positiveNumber('--warmup'), 3)
    .option('--num-envs <n>', 'parallel environments (default: the A2C default)', parseCount('--num-envs'))
    .option('--pipeline', 'a2c: step the envs in two groups, overlapping env steps with inference (default: off)')
    .option('--no-pipeline', 'a2c: step all envs together')
    .addOption(jsonOption())
    .action(
      async (o: {
        env: string;
        torso?: string;
        seconds: number;
        warmup: number;
        numEnvs?: number;
        pipeline?: boolean;
        json?: boolean;
      }) => {
        const torso = o.torso ?? (isImageEnv(o.env) ? 'conv' : 'mlp');
        const p = await benchRollout({ ...o, torso });
        printResult(Boolean(o.json), p, () => formatRolloutProfile(p));
      },
    );
}
