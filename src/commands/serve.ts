// `coordrl serve`: run the environment server in the foreground, e.g. on another machine for a
// learner that connects with makeVecEnv({ servers: [{ endpoint, keysDir }] }).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { bridgeDir, defaultPython } from '../../envs/paths.js';
import { positiveInt, positiveNumber, UsageError, UserFacingError } from '../util/cli-errors.js';
import { note } from '../util/output.js';

export interface ServeOptions {
  bind?: string;
  keys?: string;
  genKeys?: string;
  maxEnvs?: number;
  maxGroups?: number;
  maxGroupsPerClient?: number;
  maxEnvMemory?: string;
  maxMessageSize?: number;
  sessionTimeout?: number;
  logLevel?: string;
  python?: string;
}

const LOOPBACK = /^tcp:\/\/(127\.[0-9.]+|localhost|\[::1\]|::1):/;

/** Checks the options the way the server would, so that mistakes are usage errors here. */
export function serverArgs(o: ServeOptions): string[] {
  if (o.genKeys) return ['--gen-keys', o.genKeys];
  const args: string[] = [];
  if (o.bind) {
    if (!/^(ipc|tcp):\/\//.test(o.bind))
      throw new UsageError(`--bind: expected ipc://PATH or tcp://HOST:PORT, got '${o.bind}'`);
    if (o.bind.startsWith('tcp://') && !LOOPBACK.test(o.bind) && !o.keys) {
      throw new UsageError(
        `--bind ${o.bind} is reachable from other machines: it needs CURVE keys (--keys DIR; create them with --gen-keys DIR)`,
      );
    }
    args.push('--bind', o.bind);
  }
  if (o.keys) {
    if (!existsSync(o.keys)) throw new UsageError(`--keys: no such directory ${o.keys} (create it with --gen-keys)`);
    args.push('--keys', o.keys);
  }
  if (o.maxEnvs !== undefined) args.push('--max-envs', String(o.maxEnvs));
  if (o.maxGroups !== undefined) args.push('--max-groups', String(o.maxGroups));
  if (o.maxGroupsPerClient !== undefined) args.push('--max-groups-per-client', String(o.maxGroupsPerClient));
  if (o.maxEnvMemory !== undefined) {
    if (!/^\s*\d+(\.\d+)?\s*([kmgt]i?b?)?\s*$/i.test(o.maxEnvMemory))
      throw new UsageError(`--max-env-memory: expected a size such as 8G, 512M or bytes, got '${o.maxEnvMemory}'`);
    args.push('--max-env-memory', o.maxEnvMemory);
  }
  if (o.maxMessageSize !== undefined) args.push('--max-message-size', String(o.maxMessageSize));
  if (o.sessionTimeout !== undefined) args.push('--session-timeout', String(o.sessionTimeout));
  args.push('--log-level', o.logLevel ?? 'info');
  return args;
}

/** Runs the server in the foreground until it exits (Ctrl+C stops it). */
export async function serve(o: ServeOptions): Promise<void> {
  const python = o.python ?? defaultPython();
  if (!existsSync(python)) {
    throw new UserFacingError(
      `Python for the env server not found at ${python}; run \`npm run setup\` or set COORDRL_PYTHON`,
    );
  }
  const args = ['-m', 'coordrl_bridge', ...serverArgs(o)];
  if (!o.genKeys) args.push('--parent-pid', String(process.pid));
  const child = spawn(python, args, { cwd: bridgeDir(), stdio: ['ignore', 'inherit', 'inherit'] });
  const forward = (sig: NodeJS.Signals) => (): void => {
    child.kill(sig);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = forward(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (e) => reject(new UserFacingError(`cannot start ${python}: ${e.message}`)));
      child.once('exit', (c, sig) => resolve(sig ? 0 : c));
    });
    if (code === 2) throw new UsageError('the env server refused its options (see above)');
    if (code !== 0) throw new UserFacingError(`the env server exited with code ${code} (see above)`);
  } finally {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the environment server (Atari/Gymnasium vector envs over ZeroMQ + MessagePack) in the foreground; prints a JSON ready line with its endpoint',
    )
    .option(
      '--bind <endpoint>',
      'ipc://PATH, tcp://127.0.0.1:PORT (PORT 0: any free port), or tcp://0.0.0.0:PORT for other machines (needs --keys); default: a private ipc:// socket',
    )
    .option('--keys <dir>', 'serve with CURVE: server key and authorized client keys from DIR (see --gen-keys)')
    .option(
      '--gen-keys <dir>',
      'create CURVE keys in DIR and exit: DIR/server/ (server pair), DIR/clients/ (give to the learner), DIR/authorized_clients/ (public keys accepted)',
    )
    .option('--max-envs <n>', 'environments hosted at most', positiveInt('--max-envs'))
    .option('--max-groups <n>', 'env groups hosted at most (default 256)', positiveInt('--max-groups'))
    .option(
      '--max-groups-per-client <n>',
      'env groups one learner connection may hold (default 64)',
      positiveInt('--max-groups-per-client'),
    )
    .option(
      '--max-env-memory <size>',
      "memory the envs may take by estimate, e.g. 8G (default: half the machine's memory)",
    )
    .option(
      '--max-message-size <bytes>',
      'largest request accepted (larger ones drop the connection)',
      positiveInt('--max-message-size'),
    )
    .option(
      '--session-timeout <s>',
      "close a silent client's envs after this many seconds (default 3600)",
      positiveNumber('--session-timeout'),
    )
    .option('--log-level <level>', 'debug, info, warning or error', 'info')
    .option('--python <path>', 'Python interpreter (default: python-bridge/.venv/bin/python or $COORDRL_PYTHON)')
    .addHelpText(
      'after',
      `
Examples:
  coordrl serve                                   private ipc:// endpoint (what the learner does by itself)
  coordrl serve --gen-keys ~/.coordrl/keys        once, on the env machine
  coordrl serve --bind tcp://0.0.0.0:5555 --keys ~/.coordrl/keys
  then, on the learner: makeVecEnv({ env: 'pong', numEnvs: 16,
    servers: [{ endpoint: 'tcp://envhost:5555', keysDir: '<copy of the keys dir>' }] })
Unknown client keys are refused; add public keys to DIR/authorized_clients/ to accept more learners.`,
    )
    .action(async (o: ServeOptions) => {
      if (o.logLevel && !['debug', 'info', 'warning', 'error'].includes(o.logLevel)) {
        throw new UsageError(`--log-level must be debug, info, warning or error, got ${o.logLevel}`);
      }
      if (o.genKeys) note(`creating CURVE keys in ${o.genKeys}`);
      await serve(o);
    });
}
