// `coordrl power`: how many seeds per arm would decide an A/B experiment, and what they would cost.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { analyzePower, describePower } from '../experiments/power-analysis.js';
import { summarizeExperiment } from '../experiments/summary.js';
import { nonZeroNumber, openFraction, positiveInt, UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

interface PowerFlags {
  effect?: number;
  power: number;
  alpha: number;
  maxSeeds: number;
  sims: number;
  reps: number;
  seed: number;
  score: 'final' | 'train';
  json?: boolean;
}

export function registerPower(program: Command): void {
  program
    .command('power')
    .description(
      "how many seeds per arm the tool's own verdict rule needs to call the observed difference (and one you name) significant, by simulation from the experiment's runs, with Colas et al.'s t-test formula as a cross-check and the cost in training time",
    )
    .argument('<experiment-dir>', 'the directory made by coordrl ab (its finished runs are the pilot)')
    .option(
      '--effect <d>',
      "also size for this IQM difference (B - A), in the aggregate's units (normalised score where the games have reference scores)",
      nonZeroNumber('--effect'),
    )
    .option('--power <p>', 'power to reach', openFraction('--power'), 0.8)
    .option('--alpha <a>', 'the verdict intervals are at level 1 - alpha', openFraction('--alpha'), 0.05)
    .option('--max-seeds <n>', 'largest seeds per arm to search', positiveInt('--max-seeds', 1000), 50)
    .option(
      '--sims <n>',
      'simulated experiments per point (standard error of a power near 0.8: 0.4/sqrt(n))',
      positiveInt('--sims', 100_000),
      200,
    )
    .option('--reps <n>', 'bootstrap resamples inside each simulated experiment', positiveInt('--reps', 100_000), 200)
    .option('--seed <n>', 'seed of the simulation', positiveInt('--seed'), 1)
    .addOption(
      new Option('--score <which>', "the runs' score: final (default) or train (last 100 training episodes)")
        .choices(['final', 'train'])
        .default('final'),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  coordrl power experiments/minatar-a2c\n  coordrl power experiments/minatar-a2c --effect 0.2 --max-seeds 100 --json',
    )
    .action((dir: string, flags: PowerFlags) => {
      const expDir = path.resolve(dir);
      if (!existsSync(path.join(expDir, 'manifest.json')))
        throw new UsageError(`${dir} is not an A/B experiment (no manifest.json): give the directory coordrl ab made`);
      const summary = summarizeExperiment(expDir, { score: flags.score, reps: 200 });
      const report = analyzePower(summary, {
        effect: flags.effect,
        power: flags.power,
        alpha: flags.alpha,
        maxSeeds: flags.maxSeeds,
        sims: flags.sims,
        reps: flags.reps,
        seed: flags.seed,
        onPoint: (what, p) => process.stderr.write(`  ${what}: ${p.n} seeds per arm -> power ${p.power.toFixed(2)}\n`),
      });
      printResult(Boolean(flags.json), report, () => describePower(report));
    });
}
