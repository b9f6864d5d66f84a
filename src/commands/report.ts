// `coordrl report`: the numbers, page and plots of an A/B experiment (finished or not).
import path from 'node:path';
import { type Command, Option } from 'commander';
import { describeReport, writeReport } from '../report/index.js';
import { positiveInt } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

/** Where `--score train` writes its report, inside the experiment directory. */
export const TRAIN_REPORT_DIR = 'report-train';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write summary.json, a self-contained report.html and plots/*.png for an A/B experiment (works on a partly finished one)',
    )
    .argument('<experiment-dir>', 'the directory made by coordrl ab, e.g. experiments/NAME')
    .option('--reps <n>', 'bootstrap resamples for the intervals (default 2000)', positiveInt('--reps'))
    .option('--no-png', 'skip the PNG plots')
    .addOption(
      new Option(
        '--score <which>',
        "the runs' score the statistics use: final (the score each run finished with: greedy evaluation when the experiment evaluates) or train (the mean of its last 100 training episodes, the policy as it explores; files go to <experiment-dir>/report-train/)",
      )
        .choices(['final', 'train'])
        .default('final'),
    )
    .addOption(jsonOption())
    .action(async (dir: string, flags: { reps?: number; png?: boolean; json?: boolean; score: 'final' | 'train' }) => {
      const expDir = path.resolve(dir);
      const r = await writeReport(expDir, {
        reps: flags.reps,
        png: flags.png !== false,
        score: flags.score,
        outDir: flags.score === 'train' ? path.join(expDir, TRAIN_REPORT_DIR) : expDir,
      });
      printResult(Boolean(flags.json), { ...r.summary, files: r.files }, () => describeReport(r));
    });
}
