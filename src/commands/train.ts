// `coordrl train`, `coordrl resume`, `coordrl eval`, `coordrl info`: training runs on disk.
import path from 'node:path';
import { type Command, Option } from 'commander';
import { algoOption, runConfigOptions } from '../algorithms/options.js';
import { algorithm, algorithms, DEFAULT_ALGO, samplingAlgorithms } from '../algorithms/registry.js';
import { MAX_ENVS } from '../config.js';
import { resolveRunConfig } from '../run-config.js';
import { checkRunMemory, formatBytes } from '../training/memory.js';
import {
  describeRun,
  type EvalPolicy,
  type EvalResult,
  evaluateRun,
  resumeRun,
  runInfo,
  startRun,
} from '../training/run.js';
import { parseCount, positiveInt, UsageError } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

// Each episode's score and length are kept and printed: bounded so `--episodes` cannot exhaust memory.
const MAX_EVAL_EPISODES = 100_000;

interface TrainFlags extends Record<string, unknown> {
  config?: string;
  runDir?: string;
  name?: string;
  dryRun?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function registerTrain(program: Command): void {
  const train = program
    .command('train')
    .description(
      `train an agent; every hyperparameter is a flag and a config-file field (defaults: CoordConv ${algorithm(DEFAULT_ALGO).title} on Pong)`,
    )
    .addOption(algoOption())
    .option('--config <file>', 'YAML or JSON file with any of the settings below (flags override it)')
    .option('--run-dir <dir>', 'where the run is written (default runs/<algo>-<env>-<torso>-s<seed>-<time>)')
    .option(
      '--dry-run',
      'print the resolved configuration, the network parameter counts and the memory estimate, then exit',
    )
    .option(
      '--stop-at <n>',
      'pause at this many agent steps (checkpoint saved; `resume` continues)',
      parseCount('--stop-at'),
    )
    .option('--no-progress', 'no progress bar even on a terminal')
    .addOption(jsonOption());
  for (const opt of runConfigOptions()) {
    if (opt.long === '--frames' || opt.long === '--steps') opt.argParser(parseCount(opt.long));
    train.addOption(opt);
  }
  train.action(async (flags: TrainFlags) => {
    const config = resolveRunConfig(flags, flags.config);
    if (flags.dryRun) {
      const d = await describeRun(config);
      printResult(Boolean(flags.json), d, () =>
        [
          `${config.algo} on ${config.env}, torso ${d.torso}`,
          `  network: ${d.network}${config.precision === 'bf16' ? ' (compiled graphs in bf16 mixed precision)' : ''}`,
          ...Object.entries(d.params).map(([k, v]) => `  ${k}: ${v.toLocaleString()} parameters`),
          `  budget: ${d.budgetSteps.toLocaleString()} steps (${d.budgetFrames.toLocaleString()} frames)`,
          `  memory: about ${formatBytes(d.memory.totalBytes)}`,
          ...d.memory.lines.map((l) => `    ${l}`),
          `  configuration: ${JSON.stringify(config)}`,
        ].join('\n'),
      );
      // The same check as a real run: a dry run that would be refused says so (exit 2).
      checkRunMemory(config, d.memory);
      return;
    }
    const runDir = flags.runDir ? path.resolve(flags.runDir) : undefined;
    const result = await startRun(config, {
      runDir,
      progress: flags.progress !== false,
      stopAt: flags.stopAt as number | undefined,
    });
    printResult(Boolean(flags.json), result, () => result.summary);
    if (result.stopReason === 'signal') process.exitCode = 130;
  });

  program
    .command('resume')
    .description('continue a run from its newest good checkpoint (same config; counters and curves continue)')
    .argument('<run-dir>', 'the run directory, e.g. runs/a2c-pong-coordconv-s1-...')
    .option('--frames <n>', 'new total budget in frames (e.g. 20M)', parseCount('--frames'))
    .option('--steps <n>', 'new total budget in agent steps', parseCount('--steps'))
    .option('--stop-at <n>', 'pause again at this many agent steps', parseCount('--stop-at'))
    .option('--no-progress', 'no progress bar even on a terminal')
    .addOption(jsonOption())
    .action(
      async (
        dir: string,
        flags: { frames?: number; steps?: number; stopAt?: number; json?: boolean; progress?: boolean },
      ) => {
        const result = await resumeRun(path.resolve(dir), {
          frames: flags.frames,
          steps: flags.steps,
          stopAt: flags.stopAt,
          progress: flags.progress !== false,
        });
        printResult(Boolean(flags.json), result, () => result.summary);
        if (result.stopReason === 'signal') process.exitCode = 130;
      },
    );

  program
    .command('eval')
    .description(
      "play the saved policy (greedy unless --policy sample or --epsilon) without life-loss signal or reward clipping; report raw scores (a fixed quota of episodes per env, as SB3's evaluate_policy)",
    )
    .argument('<run-dir>', 'the run directory')
    .option(
      '--episodes <n>',
      'episodes to play (env i of k plays floor((n + i) / k))',
      positiveInt('--episodes', MAX_EVAL_EPISODES),
      10,
    )
    .option('--num-envs <n>', 'parallel environments (at most --episodes)', positiveInt('--num-envs', MAX_ENVS), 4)
    .option(
      '--checkpoint <name>',
      'checkpoint to play, as `coordrl info` lists it (step-000100000) or its step (default: the newest good one)',
    )
    .option('--seed <n>', 'seed of the evaluation environments', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--seed must be an integer >= 0, got '${v}'`);
      return n;
    })
    .option('--epsilon <x>', 'epsilon-greedy noise (default 0: greedy)', (v) => {
      const x = Number(v);
      if (!(x >= 0 && x <= 1)) throw new UsageError(`--epsilon must be in [0, 1], got '${v}'`);
      return x;
    })
    .addOption(new Option('--policy <how>', policyHelp()).choices(['greedy', 'sample']).default('greedy'))
    .addOption(jsonOption())
    .action(
      async (
        dir: string,
        flags: {
          episodes: number;
          numEnvs: number;
          seed?: number;
          epsilon?: number;
          checkpoint?: string;
          policy: EvalPolicy;
          json?: boolean;
        },
      ) => {
        if (flags.policy === 'sample' && flags.epsilon !== undefined) {
          throw new UsageError(
            '--epsilon adds noise to greedy play; --policy sample draws every action from the policy',
          );
        }
        const r = await evaluateRun(path.resolve(dir), flags);
        printResult(Boolean(flags.json), r, () => describeEval(r));
      },
    );

  program
    .command('info')
    .description("show a run's configuration, progress and checkpoints (with their integrity)")
    .argument('<run-dir>', 'the run directory')
    .addOption(jsonOption())
    .action(async (dir: string, flags: { json?: boolean }) => {
      const info = await runInfo(path.resolve(dir));
      printResult(Boolean(flags.json), info, () => info.summary);
    });
}

/** `eval --policy`: what greedy play picks per algorithm, and which ones can sample. */
function policyHelp(): string {
  const greedy = algorithms().map((a) => `${a.title}: ${a.evaluation.greedy}`);
  const sampling = samplingAlgorithms().map((n) => algorithm(n).title);
  return `greedy: the best action (${greedy.join(', ')}); sample: actions drawn from the policy, as it was trained (${sampling.join(', ')})`;
}

function describeEval(r: EvalResult): string {
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const s = r.lengthSteps;
  return [
    `${plural(r.episodes, 'episode')} of ${r.env} (${plural(r.numEnvs, 'env')}, quota ${r.quota.join('/')}) from checkpoint ${r.checkpoint} (step ${r.checkpointStep.toLocaleString()}), ${r.policy === 'sample' ? 'actions sampled from the policy' : r.epsilon > 0 ? `epsilon-greedy (${r.epsilon})` : 'greedy'}`,
    `  score: mean ${f(r.mean)} +/- ${f(r.std)} (std), median ${f(r.median)}, min ${f(r.min)}, max ${f(r.max)}`,
    // Where a step is one frame (MinAtar, Gymnasium) the frames would repeat the steps.
    `  length: mean ${f(s.mean)} steps${r.lengthFrames.mean !== s.mean ? ` (${f(r.lengthFrames.mean)} frames)` : ''} +/- ${f(s.std)}, median ${f(s.median)}, min ${f(s.min)}, max ${f(s.max)} steps`,
  ].join('\n');
}
