// The `coordrl` command line. Each command lives in src/commands/<name>.ts and registers itself
// here; this file only wires them together and turns errors into exit codes:
//   0 ok, 1 a failure the user can act on, 2 bad arguments (one line on stderr), 130 interrupted.
import { Command, CommanderError } from 'commander';
import { algorithms } from './algorithms/registry.js';
import { BackendError } from './backend.js';
import { registerAb } from './commands/ab.js';
import { registerBench } from './commands/bench.js';
import { registerBenchEnv } from './commands/bench-env.js';
import { registerBenchReplay } from './commands/bench-replay.js';
import { registerBenchRollout } from './commands/bench-rollout.js';
import { registerBenchTrain } from './commands/bench-train.js';
import { registerBenchTransport } from './commands/bench-transport.js';
import { registerDoctor } from './commands/doctor.js';
import { registerPlot } from './commands/plot.js';
import { registerPower } from './commands/power.js';
import { registerReport } from './commands/report.js';
import { registerServe } from './commands/serve.js';
import { registerToy } from './commands/toy.js';
import { registerTrain } from './commands/train.js';
import { UsageError, UserFacingError } from './util/cli-errors.js';
import { exitWithParent } from './util/parent-watch.js';
import { PACKAGE_VERSION } from './version.js';

export type CommandRegistrar = (program: Command) => void;

const registrars: CommandRegistrar[] = [
  registerTrain,
  registerAb,
  registerReport,
  registerPower,
  registerPlot,
  registerToy,
  registerServe,
  (program) =>
    registerBench(program, [
      registerBenchEnv,
      registerBenchReplay,
      registerBenchTrain,
      registerBenchRollout,
      registerBenchTransport,
    ]),
  registerDoctor,
];

export function buildProgram(): Command {
  const titles = algorithms().map((a) => a.title);
  const program = new Command('coordrl')
    .description(
      `Train ${titles.join('/')} agents on Atari and A/B test conv vs CoordConv torsos, on native TensorFlow.`,
    )
    .version(PACKAGE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride();
  for (const register of registrars) register(program);
  // Every subcommand inherits exitOverride so parse errors become exit code 2 here.
  for (const cmd of program.commands) applyExitOverride(cmd);
  return program;
}

function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) applyExitOverride(sub);
}

export async function main(argv: string[]): Promise<void> {
  exitWithParent();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e);
  }
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // help and version are "errors" to commander; they already printed.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return 2; // commander printed its one-line message
  }
  if (e instanceof UsageError) {
    process.stderr.write(`coordrl: ${e.message}\n`);
    return 2;
  }
  if (e instanceof UserFacingError || e instanceof BackendError) {
    process.stderr.write(`coordrl: ${e.message}\n`);
    return 1;
  }
  const fs = fileSystemError(e);
  if (fs) {
    process.stderr.write(`coordrl: ${fs}\n`);
    return 1;
  }
  process.stderr.write(`coordrl: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

/** Full disk, read-only file system, no permission: the user's to fix, so one line naming the file. */
const FS_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

function fileSystemError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | null;
  const words = typeof err?.code === 'string' ? FS_CODES[err.code] : undefined;
  if (!words) return null;
  // A failed write(2) names no file (only open(2) and friends do).
  const where = err?.path ? `${err.syscall ?? 'write'} ${err.path}` : `${err?.syscall ?? 'write'} to the disk`;
  return `cannot ${where}: ${words} (${err?.code})`;
}
