// `coordrl bench ...`: benchmarks that print numbers (and JSON), never timed unit tests. The
// benchmarks themselves are in src/bench/; this file and bench-*.ts only define the commands.
import { type Command, Option } from 'commander';
import type { BackendChoice } from '../backend.js';
import { benchNn, formatNn } from '../bench/nn.js';
import {
  type AgentNet,
  benchUpdates,
  formatUpdates,
  MINATAR_BENCH_OPTIMIZERS,
  type MinatarBenchOptimizer,
} from '../bench/updates.js';
import { PRECISIONS, type Precision } from '../compiled/precision.js';
import type { TorsoKind } from '../torsos.js';
import { positiveInt, UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { backendOption, jsonOption } from './options.js';

export type BenchRegistrar = (bench: Command) => void;

export function registerBench(program: Command, more: BenchRegistrar[] = []): void {
  const bench = program
    .command('bench')
    .description('benchmarks that print numbers (use --json for machine-readable output)');
  bench
    .command('nn')
    .description(
      'time one eager Adam train step (batch 32) and batch-8 inference of the Nature CNN on the active backend; ' +
        "with --net mlp|minatar|cnn, the agents' updates and inference, compiled and eager",
    )
    .addOption(
      new Option(
        '--net <kind>',
        "nature: the Nature CNN, eager; cnn: the agents' Nature CNN calls on 84x84x4 frames; mlp: CartPole 64-64 MLP; minatar: the MinAtar network",
      )
        .choices(['nature', 'cnn', 'mlp', 'minatar'])
        .default('nature'),
    )
    .addOption(
      new Option('--torso <kind>', 'network torso (--net nature|cnn)').choices(['conv', 'coordconv']).default('conv'),
    )
    .addOption(
      new Option(
        '--precision <p>',
        '--net cnn|mlp|minatar: bf16 adds a compiled-bf16 column (updates in bfloat16 mixed precision, fp32 weights)',
      ).choices([...PRECISIONS]),
    )
    .addOption(
      new Option(
        '--optimizer <name>',
        "--net minatar: the DQN update's optimizer (default centered-rmsprop, the MinAtar DQN preset's)",
      ).choices([...MINATAR_BENCH_OPTIMIZERS]),
    )
    .option('--iters <n>', 'timed iterations', positiveInt('--iters'), 30)
    .option('--train-batch <n>', 'batch size of the train step', positiveInt('--train-batch'), 32)
    .option('--infer-batch <n>', 'batch size of the inference', positiveInt('--infer-batch'), 8)
    .addOption(backendOption())
    .addOption(jsonOption())
    .action(
      async (o: {
        net: 'nature' | AgentNet;
        torso: TorsoKind;
        optimizer?: MinatarBenchOptimizer;
        precision?: Precision;
        iters: number;
        trainBatch: number;
        inferBatch: number;
        backend: BackendChoice;
        json?: boolean;
      }) => {
        if (o.optimizer !== undefined && o.net !== 'minatar') {
          throw new UsageError(
            `--optimizer applies to --net minatar only (got --net ${o.net}); drop it or pass --net minatar`,
          );
        }
        if (o.precision !== undefined && o.net === 'nature') {
          throw new UsageError(
            '--precision applies to the compiled calls (--net cnn|mlp|minatar); --net nature times eager tfjs ops',
          );
        }
        if (o.torso !== 'conv' && o.net !== 'nature' && o.net !== 'cnn') {
          throw new UsageError(`--torso applies to --net nature|cnn (got --net ${o.net}); drop it`);
        }
        if (o.net !== 'nature') {
          const u = await benchUpdates({
            net: o.net,
            backend: o.backend,
            // The small nets' calls take microseconds to milliseconds: at least 200 for stable
            // percentiles; a CNN update takes tens of milliseconds.
            iters: o.net === 'cnn' ? o.iters : Math.max(o.iters, 200),
            optimizer: o.optimizer,
            torso: o.torso === 'coordconv' ? 'coordconv' : 'conv',
            precision: o.precision,
          });
          printResult(Boolean(o.json), u, () => formatUpdates(u));
          return;
        }
        const r = await benchNn(o);
        printResult(Boolean(o.json), r, () => formatNn(r));
      },
    );
  for (const register of more) register(bench);
}
