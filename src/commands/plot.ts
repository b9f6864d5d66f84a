// `coordrl plot`: learning curves of one or more runs as PNG or SVG.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { renderSvg, svgToPng } from '../report/charts.js';
import { type CurveAxis, readRunSeries, runCurvesSpec } from '../report/run-curves.js';
import { UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description('plot a metric of one or more runs (default: raw game score against frames) to a PNG or SVG file')
    .argument(
      '<runs...>',
      'run directories (e.g. runs/pong-conv runs/pong-coordconv) or .jsonl files of the same records',
    )
    .option('--out <file>', 'output file, .png or .svg (default: curves.png in the first run directory)')
    .option('--metric <name>', 'a field of metrics.jsonl: score, entropy, valueLoss, sps, ...', 'score')
    .addOption(new Option('--x <axis>', 'horizontal axis').choices(['frames', 'step', 'time']).default('frames'))
    .option(
      '--labels <names>',
      'comma-separated legend names, one per run (default: the shortest end of each path that tells the runs apart, e.g. conv/seed-1)',
    )
    .option('--title <text>', 'chart title')
    .addOption(jsonOption())
    .action(
      async (
        runDirs: string[],
        opts: { out?: string; metric: string; x: CurveAxis; labels?: string; title?: string; json?: boolean },
      ) => {
        // Next to the run, not wherever the command was typed; a .jsonl file's plot goes beside it.
        const first = runDirs[0];
        const home = first.endsWith('.jsonl') ? path.dirname(first) : first;
        const flags = { ...opts, out: opts.out ?? path.join(home, 'curves.png') };
        const ext = path.extname(flags.out).toLowerCase();
        if (ext !== '.png' && ext !== '.svg') {
          throw new UsageError(`--out must end in .png or .svg, got '${flags.out}'`);
        }
        const series = readRunSeries(
          runDirs,
          flags.metric,
          flags.x,
          flags.labels?.split(',').map((s) => s.trim()),
        );
        const empty = series.filter((s) => s.points.length === 0).map((s) => s.runDir);
        if (empty.length === series.length) {
          throw new UsageError(
            `no '${flags.metric}' values in ${empty.join(', ')} (score appears after the first finished games)`,
          );
        }
        const svg = await renderSvg(runCurvesSpec(series, flags.metric, flags.x, flags.title));
        writeFileSync(flags.out, ext === '.svg' ? svg : svgToPng(svg));
        const result = {
          file: path.resolve(flags.out),
          metric: flags.metric,
          x: flags.x,
          runs: series.map((s) => ({
            label: s.label,
            points: s.points.length,
            last: s.points.at(-1) ?? null,
          })),
        };
        printResult(Boolean(flags.json), result, () =>
          [
            `wrote ${result.file}`,
            ...result.runs.map((r) =>
              r.last
                ? `  ${r.label}: ${r.points} points, last ${flags.metric} ${r.last.y.toFixed(2)} at ${flags.x} ${r.last.x.toLocaleString('en-US')}`
                : `  ${r.label}: no values yet`,
            ),
          ].join('\n'),
        );
      },
    );
}
