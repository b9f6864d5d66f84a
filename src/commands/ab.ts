// `coordrl ab`: an A/B experiment of two or more arms (conv vs CoordConv by default) over games
// and paired seeds, each run a child `coordrl train|resume|eval` process; then the report.
import path from 'node:path';
import type { Command } from 'commander';
import { algoOption, runConfigOptions } from '../algorithms/options.js';
import { algorithms, DEFAULT_ALGO } from '../algorithms/registry.js';
import { commonSchema, pickFlags } from '../config.js';
import { parseArms, parseEnvs, parseSeeds } from '../experiments/arms.js';
import { createExperiment, type ExperimentSpec, planRuns, probeRun, readManifest } from '../experiments/manifest.js';
import { runExperiment } from '../experiments/runner.js';
import { describeReport, writeReport } from '../report/index.js';
import { nonNegativeInt, parseCount, positiveInt, UsageError } from '../util/cli-errors.js';
import { note, printResult } from '../util/output.js';
import {
  abCancel,
  abStatus,
  addSlurmOptions,
  checkNewSlurmExperiment,
  checkNothingQueued,
  checkSlurmFlags,
  executorFor,
  runOne,
  type SlurmFlags,
  submitWithSlurm,
} from './ab-slurm.js';
import { jsonOption } from './options.js';

interface AbFlags extends Record<string, unknown>, SlurmFlags {
  algo?: string;
  envs?: string;
  arms?: string;
  armsFile?: string;
  seeds?: string;
  out?: string;
  resume?: string;
  parallel?: number;
  evalEpisodes?: number;
  config?: string;
  dryRun?: boolean;
  report?: boolean;
  statusEvery?: number;
  json?: boolean;
}

/** Flags that define an experiment; with --resume they come from its manifest instead. */
const DEFINING = ['algo', 'envs', 'arms', 'armsFile', 'seeds', 'out', 'evalEpisodes', 'config'] as const;

const SCHEMAS = [commonSchema, ...algorithms().map((a) => a.hyperparameters)];

/** The experiment's own flags replace --env and --seed of `train`. */
const NOT_BASE = new Set(['--env', '--seed']);

export function registerAb(program: Command): void {
  const ab = program
    .command('ab')
    .description(
      'A/B experiment: train every game x arm x seed (seeds paired across arms), evaluate each run, and report the difference with bootstrap intervals',
    )
    .addOption(algoOption())
    .option('--envs <list>', 'games, comma-separated, e.g. pong,breakout,mspacman (or Gymnasium ids like CartPole-v1)')
    .option(
      '--arms <list>',
      'arms, comma-separated; the first is the baseline A (default conv,coordconv; without --arms-file the names are torsos: conv, coordconv, mlp)',
    )
    .option('--arms-file <file>', 'YAML/JSON list of arms, e.g. [{name: cc-r, torso: coordconv, withR: true}]')
    .option('--seeds <n|list>', 'paired seeds: a count n (seeds 1..n) or a list like 1,2,3 (default 5)')
    .option('--out <dir>', 'experiment directory to create, e.g. experiments/NAME')
    .option('--resume <dir>', 'finish an experiment: run what is missing, never repeat what is done')
    .option(
      '--parallel <k>',
      'runs at once, each in its own process (default 1; with --executor slurm: at most k tasks at once, default no cap)',
      positiveInt('--parallel'),
    )
    .option(
      '--eval-episodes <n>',
      'greedy evaluation episodes per run for its final score; 0 = the last training window instead (default 10)',
      nonNegativeInt('--eval-episodes'),
    )
    .option('--config <file>', 'YAML or JSON file of base settings for every run (flags and arms override it)')
    .option('--dry-run', 'validate every run configuration and print the plan; start nothing')
    .option('--no-report', 'do not write summary.json, report.html and plots/ at the end')
    .option(
      '--status-every <seconds>',
      'seconds between progress lines (0: none; default 60)',
      nonNegativeInt('--status-every'),
    )
    .addOption(jsonOption());
  addSlurmOptions(ab);
  for (const opt of runConfigOptions()) {
    if (NOT_BASE.has(opt.long ?? '')) continue;
    if (opt.long === '--frames' || opt.long === '--steps') opt.argParser(parseCount(opt.long));
    opt.description = `base setting: ${opt.description}`;
    ab.addOption(opt);
  }
  ab.addHelpText(
    'after',
    `
Examples:
  coordrl ab --algo a2c --envs pong,breakout,mspacman --arms conv,coordconv --seeds 5 --frames 10M --out experiments/a2c-cc --parallel 2
  coordrl ab --resume experiments/a2c-cc
  coordrl report experiments/a2c-cc
  coordrl ab --envs pong --seeds 10 --frames 10M --out experiments/cc --executor slurm --partition gpu --gpus-per-run 1 --time 12:00:00
  coordrl ab --status experiments/cc
  coordrl ab --resume experiments/cc          # resubmits only the runs neither done nor queued`,
  );
  ab.action(async (flags: AbFlags, cmd: Command) => {
    const json = Boolean(flags.json);
    if (flags.status) return abStatus(flags.status, flags);
    if (flags.cancel) return abCancel(flags.cancel, flags);
    let expDir: string;
    if (flags.resume) {
      const given = [...DEFINING.filter((k) => flags[k] !== undefined), ...Object.keys(pickFlags(flags, SCHEMAS))];
      if (given.length) {
        throw new UsageError(
          `--resume continues an experiment with its own settings; drop ${given.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} (only --parallel, --status-every, --no-report, --dry-run, --json, --executor, --run and the Slurm flags go with it)`,
        );
      }
      expDir = path.resolve(flags.resume);
      checkSlurmFlags(flags, executorFor(flags, expDir), true);
      if (flags.run) return runOne(expDir, flags);
      if (flags.dryRun) {
        const m = readManifest(expDir);
        const states = [];
        for (const r of m.runs) states.push({ id: r.id, ...(await probeRun(path.join(expDir, r.dir))) });
        const todo = states.filter((s) => s.state !== 'final');
        printResult(json, { experiment: expDir, runs: states.map(({ final, ...s }) => s) }, () =>
          [
            `${expDir}: ${m.runs.length - todo.length} of ${m.runs.length} runs done; to do:`,
            ...todo.map(
              (s) =>
                `  ${s.id}: ${s.state === 'new' ? 'train' : s.state === 'partial' ? `resume from step ${s.steps}` : 'evaluate'}`,
            ),
          ].join('\n'),
        );
        return;
      }
    } else {
      if (!flags.out)
        throw new UsageError('--out <dir> is required for a new experiment (or --resume <dir> to continue one)');
      if (!flags.envs) throw new UsageError('--envs is required, e.g. --envs pong,breakout,mspacman');
      expDir = path.resolve(flags.out);
      checkSlurmFlags(flags, executorFor(flags, null), false);
      if (executorFor(flags, null) === 'slurm') await checkNewSlurmExperiment(expDir, flags, !flags.dryRun);
      const spec: ExperimentSpec = {
        algo: flags.algo ?? DEFAULT_ALGO,
        envs: parseEnvs(flags.envs),
        arms: parseArms(flags.arms, flags.armsFile),
        seeds: parseSeeds(flags.seeds ?? '5'),
        evalEpisodes: flags.evalEpisodes ?? 10,
        base: pickFlags(flags, SCHEMAS),
        configFile: flags.config,
        // The arguments commander parsed (process.argv is another program's when run in-process).
        // (commander keeps them as rawArgs, which its typings leave out).
        command: (cmd.parent as { rawArgs?: string[] } | null)?.rawArgs?.slice(2) ?? process.argv.slice(2),
      };
      if (flags.dryRun) {
        const plan = planRuns(spec);
        printResult(
          json,
          { experiment: expDir, spec, runs: plan.map((p) => ({ id: p.run.id, config: p.config })) },
          () =>
            [
              `${plan.length} runs (${spec.envs.length} games x ${spec.arms.length} arms x ${spec.seeds.length} seeds) would be written to ${expDir}:`,
              ...plan.map((p) => `  ${p.run.id}: ${JSON.stringify(p.config)}`),
            ].join('\n'),
        );
        return;
      }
      createExperiment(expDir, spec);
      note(`experiment directory: ${expDir}`);
    }
    if (executorFor(flags, expDir) === 'slurm') return submitWithSlurm(expDir, flags);
    if (flags.resume) await checkNothingQueued(expDir);
    const result = await runExperiment(expDir, { parallel: flags.parallel ?? 1, statusEvery: flags.statusEvery });
    const report = flags.report !== false && result.done > 0 ? await writeReport(expDir) : null;
    const out = {
      experiment: expDir,
      total: result.total,
      done: result.done,
      interrupted: result.interrupted,
      failed: result.failed.map((r) => ({ id: r.id, error: r.error })),
      held: result.held,
      launches: result.launches,
      verdicts: report?.summary.verdicts ?? [],
      report: report?.files ?? null,
    };
    printResult(json, out, () =>
      [
        ...(report && !result.interrupted
          ? []
          : [`${result.done} of ${result.total} runs done${result.interrupted ? ' (interrupted)' : ''}.`]),
        ...result.failed.map((r) => `failed: ${r.id}: ${r.error}`),
        ...result.held.map((h) => `left alone: ${h.message}`),
        ...(report ? [describeReport(report)] : []),
        ...(result.done < result.total ? [`continue with: coordrl ab --resume ${expDir}`] : []),
      ].join('\n'),
    );
    if (result.interrupted) process.exitCode = 130;
    else if (result.failed.length) process.exitCode = 1;
  });
}
