// `coordrl bench transport` (src/bench/transport.ts): the command's options and its output.
import type { Command } from 'commander';
import { benchTransport, formatTransport, MAX_REPLY_BYTES, MAX_ROUND_TRIPS } from '../bench/transport.js';
import { positiveInt } from '../util/cli-errors.js';
import { printResult } from '../util/output.js';
import { jsonOption } from './options.js';

export function registerBenchTransport(bench: Command): void {
  bench
    .command('transport')
    .description('floor of a local Node <-> Python round trip: ZeroMQ ipc:// vs a raw Unix socket, and msgpack cost')
    .option('--round-trips <n>', 'round trips per transport', positiveInt('--round-trips', MAX_ROUND_TRIPS), 20_000)
    .option(
      '--reply-bytes <n>',
      'bytes in each reply (a CartPole step reply is ~180)',
      positiveInt('--reply-bytes', MAX_REPLY_BYTES),
      180,
    )
    .addOption(jsonOption())
    .action(async (o: { roundTrips: number; replyBytes: number; json?: boolean }) => {
      const r = await benchTransport(o);
      printResult(Boolean(o.json), r, () => formatTransport(r));
    });
}
