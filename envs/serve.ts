// Running the env server in the foreground (`coordrl serve`): its options checked the way the
// server checks them, so mistakes are usage errors here, then the server as a child process with
// signals passed on. The learner's own managed server is envs/process.ts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UsageError, UserFacingError } from '../src/util/cli-errors.js';
import { bridgeDir, defaultPython } from './paths.js';

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
  maxObsBytes?: string;
  maxReplyBytes?: string;
  reclaimIdle?: number;
  logLevel?: string;
  python?: string;
}

/** A size as the server reads it: bytes, or with a k/M/G/T suffix (KiB, MB, ... too). */
const SIZE = /^\s*\d+(\.\d+)?\s*([kmgt]i?b?)?\s*$/i;
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
  const sizes = [
    ['--max-env-memory', o.maxEnvMemory],
    ['--max-obs-bytes', o.maxObsBytes],
    ['--max-reply-bytes', o.maxReplyBytes],
  ] as const;
  for (const [flag, size] of sizes) {
    if (size === undefined) continue;
    if (!SIZE.test(size)) throw new UsageError(`${flag}: expected a size such as 8G, 512M or bytes, got '${size}'`);
    args.push(flag, size);
  }
  if (o.maxMessageSize !== undefined) args.push('--max-message-size', String(o.maxMessageSize));
  if (o.sessionTimeout !== undefined) args.push('--session-timeout', String(o.sessionTimeout));
  if (o.reclaimIdle !== undefined) args.push('--reclaim-idle', String(o.reclaimIdle));
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
