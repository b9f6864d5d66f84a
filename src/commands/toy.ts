// `coordrl toy`: the supervised coordinate experiments of Liu et al. (2018) on Not-so-Clevr data,
// CoordConv against plain convolution, on a uniform or a quadrant train/test split.
import type { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice, initBackend } from '../backend.js';
import { TOY_SPLITS, type ToySplit } from '../toy/data.js';
import { TOY_ARCHS, TOY_TASKS, type ToyArch, type ToyTask } from '../toy/models.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, runToy, type ToyResult } from '../toy/train.js';
import { nonNegativeInt, positiveInt, positiveNumber, UsageError } from '../util/cli-errors.js';
import { note, printResult } from '../util/output.js';

interface ToyCliOptions {
  split: string;
  arch: string;
  epochs?: number;
  seed: number;
  batchSize: number;
  lr?: number;
  backend: string;
  json?: boolean;
  quiet?: boolean;
}

function pick<T extends string>(what: string, value: string, allowed: readonly T[]): T[] {
  if (value === 'all') return [...allowed];
  if ((allowed as readonly string[]).includes(value)) return [value as T];
  throw new UsageError(`${what} must be one of ${allowed.join(', ')} or all, got '${value}'`);
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

export function formatToyResult(r: ToyResult): string {
  return [
    `${r.task} / ${r.split} split / ${r.arch}: ${r.params.toLocaleString('en-US')} parameters, ${r.epochs} epochs`,
    `  train accuracy ${pct(r.trainAccuracy)} of ${r.trainSize}`,
    `  test accuracy  ${pct(r.testAccuracy)} of ${r.testSize}`,
    `  final loss ${r.finalLoss.toPrecision(4)}, ${r.seconds.toFixed(1)} s`,
  ].join('\n');
}

export function registerToy(program: Command): void {
  program
    .command('toy')
    .description(
      'Run the CoordConv paper\'s supervised coordinate experiments on "Not-so-Clevr" data (64x64 canvas, 3,136 centres).',
    )
    .argument('<task>', `classification ((x,y) -> one-hot 64x64 pixel), regression (one-hot pixel -> (x,y)), or all`)
    .option(
      '--split <split>',
      'uniform (random 20% of centres held out) | quadrant (bottom-right quadrant held out) | all',
      'uniform',
    )
    .option('--arch <arch>', 'coordconv | conv | all', 'coordconv')
    .option(
      '--epochs <n>',
      `passes over the training set (default: classification coordconv ${DEFAULT_EPOCHS.classification.coordconv}, conv ${DEFAULT_EPOCHS.classification.conv}; regression coordconv ${DEFAULT_EPOCHS.regression.coordconv}, conv ${DEFAULT_EPOCHS.regression.conv})`,
      positiveInt('--epochs'),
    )
    .option(
      '--seed <n>',
      'seeds the uniform split, the initial weights and the batch order',
      nonNegativeInt('--seed'),
      0,
    )
    .option('--batch-size <n>', 'minibatch size', positiveInt('--batch-size'), DEFAULT_BATCH_SIZE)
    .option(
      '--lr <x>',
      `Adam learning rate (default ${DEFAULT_LEARNING_RATE.classification} classification, ${DEFAULT_LEARNING_RATE.regression} regression)`,
      positiveNumber('--lr'),
    )
    .option('--backend <backend>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(' | ')}`, 'auto')
    .option('--json', 'print the result as JSON (an array when several runs are asked for)')
    .option('-q, --quiet', 'no per-epoch progress on stderr')
    .addHelpText(
      'after',
      `
Accuracy is exact: classification counts the argmax pixel equal to the centre; regression counts
both predicted coordinates rounding to the true pixel. Examples:
  coordrl toy classification --split quadrant --arch coordconv
  coordrl toy regression --split uniform --arch conv --epochs 60 --json
  coordrl toy all --split all --arch all --json     # all 8 combinations`,
    )
    .action(async (taskArg: string, opts: ToyCliOptions) => {
      const tasks = pick<ToyTask>('task', taskArg, TOY_TASKS);
      const splits = pick<ToySplit>('--split', opts.split, TOY_SPLITS);
      const archs = pick<ToyArch>('--arch', opts.arch, TOY_ARCHS);
      if (!(BACKEND_CHOICES as readonly string[]).includes(opts.backend)) {
        throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got '${opts.backend}'`);
      }
      const info = await initBackend(opts.backend as BackendChoice);
      for (const w of info.warnings) note(`warning: ${w}`);
      const results: (ToyResult & { backend: string; device: string })[] = [];
      for (const task of tasks) {
        for (const split of splits) {
          for (const arch of archs) {
            if (!opts.quiet) note(`toy ${task} --split ${split} --arch ${arch} (backend ${info.backend})`);
            const r = await runToy({
              task,
              split,
              arch,
              epochs: opts.epochs,
              seed: opts.seed,
              batchSize: opts.batchSize,
              learningRate: opts.lr,
              onEpoch: opts.quiet
                ? undefined
                : (l) => note(`  epoch ${l.epoch}: loss ${l.loss.toPrecision(4)} (${l.seconds.toFixed(1)} s)`),
            });
            results.push({ ...r, backend: info.backend, device: info.device });
            if (!opts.json) printResult(false, r, () => formatToyResult(r));
          }
        }
      }
      if (opts.json) printResult(true, results.length === 1 ? results[0] : results, () => '');
    });
}
