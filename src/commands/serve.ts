// `coordrl serve`: run the environment server in the foreground, e.g. on another machine for a
// learner that connects with makeVecEnv({ servers: [{ endpoint, keysDir }] }).
import type { Command } from 'commander';
import { type ServeOptions, serve } from '../../envs/serve.js';
import { nonNegativeNumber, positiveInt, positiveNumber, UsageError } from '../util/cli-errors.js';
import { note } from '../util/output.js';

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
    .option('--max-obs-bytes <size>', "one env's observation at most, e.g. 16M (default 16 MiB)")
    .option('--max-reply-bytes <size>', 'one step reply at most, e.g. 256M (default 256 MiB)')
    .option(
      '--reclaim-idle <s>',
      'when a make would pass a cap, close the groups of clients silent this long, longest first (0: never; default 30)',
      nonNegativeNumber('--reclaim-idle'),
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
