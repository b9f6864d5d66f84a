// `coordrl bench replay` (src/bench/replay.ts): the command's options, checked, and its output.
import type { Command } from 'commander';
import { benchReplay, formatBenchReplay } from '../bench/replay.js';
import { parseCount, positiveInt, UsageError } from '../util/cli-errors.js';
import { note, printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerBenchReplay(bench: Command): void {
  bench
    .command('replay')
    .description('memory and speed of the Atari frame replay buffer (synthetic 84x84x4 frames)')
    .option(
      '--capacity <n>',
      'slots (transitions) in the buffer, e.g. 100k, 1M (84x84 bytes each)',
      parseCount('--capacity'),
      100_000,
    )
    .option('--batch <n>', 'batch size of a sample() call', positiveInt('--batch'), 32)
    .option('--envs <n>', 'parallel envs feeding the buffer', positiveInt('--envs'), 8)
    .option('--n-step <n>', 'n-step returns', positiveInt('--n-step'), 1)
    .option('--samples <n>', 'timed sample() calls', positiveInt('--samples'), 1000)
    .addOption(jsonOption())
    .action((o: { capacity: number; batch: number; envs: number; nStep: number; samples: number; json?: boolean }) => {
      const perEnv = Math.ceil(o.capacity / o.envs);
      if (perEnv < 2 * 4 + o.nStep + 2) {
        throw new UsageError(
          `--capacity ${o.capacity} is too small for ${o.envs} envs (need ${(2 * 4 + o.nStep + 2) * o.envs})`,
        );
      }
      note(
        `filling a replay buffer of ${o.capacity} slots (${((o.capacity * 84 * 84) / 2 ** 30).toFixed(2)} GiB of frames)...`,
      );
      const r = benchReplay({
        capacity: o.capacity,
        batch: o.batch,
        numEnvs: o.envs,
        nStep: o.nStep,
        samples: o.samples,
      });
      printResult(Boolean(o.json), r, () => formatBenchReplay(r));
    });
}
