// `coordrl report`: the numbers, page and plots of an A/B experiment (finished or not).
import path from 'node:path';
import type { Command } from 'commander';
import { describeReport, writeReport } from '../report/index.js';
import { positiveInt } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write summary.json, a self-contained report.html and plots/*.png for an A/B experiment (works on a partly finished one)',
    )
    .argument('<experiment-dir>', 'the directory made by coordrl ab, e.g. experiments/NAME')
    .option('--reps <n>', 'bootstrap resamples for the intervals (default 2000)', positiveInt('--reps'))
    .option('--no-png', 'skip the PNG plots')
    .addOption(jsonOption())
    .action(async (dir: string, flags: { reps?: number; png?: boolean; json?: boolean }) => {
      const r = await writeReport(path.resolve(dir), { reps: flags.reps, png: flags.png !== false });
      printResult(Boolean(flags.json), { ...r.summary, files: r.files }, () => describeReport(r));
    });
}
