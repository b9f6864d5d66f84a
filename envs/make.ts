// makeVecEnv: start (or connect to) env servers, create the env groups, return one VecEnv.
import { availableParallelism } from 'node:os';
import { UsageError } from '../src/util/cli-errors.js';
import { ConcatVecEnv } from './concat.js';
import { loadCurveClientKeys } from './curve.js';
import { RemoteVecEnv } from './group.js';
import type { SpawnOptions } from './process.js';
import { BridgeServer, type RemoteServerOptions } from './server.js';
import type { AtariOptions, CurveClientKeys, MinAtarOptions, ObsLayout } from './types.js';

export interface RemoteServer {
  /** e.g. tcp://10.0.0.5:5555 (a `coordrl serve --bind ...` elsewhere). */
  endpoint: string;
  /** CURVE keys, or a directory made by `coordrl serve --gen-keys DIR` (its client keys are used). */
  curve?: CurveClientKeys;
  keysDir?: string;
}

export interface MakeVecEnvOptions {
  /**
   * 'pong', 'Breakout', 'ALE/MsPacman-v5', 'PongNoFrameskip-v4', ..., a MinAtar game ('minatar/breakout',
   * 'MinAtar/Breakout-v1', 'breakout-minatar'), or any Gymnasium id ('CartPole-v1').
   */
  env: string;
  numEnvs: number;
  /**
   * Split the envs into this many groups that step independently (default 1). With 2, an agent can
   * step one group while it computes the actions of the other (see BridgeVecEnv.groups).
   */
  groups?: number;
  /** Local servers to start (default 1), or running servers to use; groups are spread round-robin. */
  servers?: number | RemoteServer[];
  /** Atari options (ignored for other envs). */
  atari?: AtariOptions;
  /** MinAtar options (ignored for other envs). */
  minatar?: MinAtarOptions;
  /** Atari observation layout: 'NHWC' (default, for TensorFlow) or 'NCHW' (ale-py's own). */
  layout?: Exclude<ObsLayout, 'flat'>;
  /** Send the last observation of ended episodes (default true). */
  finalObs?: boolean;
  /** Server process options (python path, stderr, start timeout). */
  spawn?: SpawnOptions;
  /** A reply slower than this means the server hung (default 60 s). */
  requestTimeoutMs?: number;
  /** Server restarts allowed before a step fails (default 5). */
  maxRestarts?: number;
}

/** The VecEnv of makeVecEnv: all envs together, plus their groups and servers. */
export class BridgeVecEnv extends ConcatVecEnv {
  /** The env groups (each a VecEnv over a slice of the env slots, in order). */
  readonly groups: readonly RemoteVecEnv[];
  readonly servers: readonly BridgeServer[];

  constructor(groups: RemoteVecEnv[], servers: BridgeServer[]) {
    super(groups);
    this.groups = groups;
    this.servers = servers;
  }

  /** Server restarts so far (each may have cut the episodes of several groups). */
  get serverRestarts(): number {
    return this.servers.reduce((s, x) => s + x.restarts, 0);
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await Promise.all(this.servers.map((s) => s.close()));
    }
  }
}

function splitEvenly(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

export async function makeVecEnv(opts: MakeVecEnvOptions): Promise<BridgeVecEnv> {
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(opts.numEnvs) || opts.numEnvs < 1)
    throw new UsageError(`numEnvs must be >= 1, got ${opts.numEnvs}`);
  if (!Number.isInteger(groups) || groups < 1 || groups > opts.numEnvs) {
    throw new UsageError(`groups must be an integer in [1, numEnvs=${opts.numEnvs}], got ${groups}`);
  }
  const serverOpts = { requestTimeoutMs: opts.requestTimeoutMs, maxRestarts: opts.maxRestarts };
  const remote = Array.isArray(opts.servers) ? opts.servers : null;
  const nLocal = remote ? 0 : typeof opts.servers === 'number' ? opts.servers : 1;
  if (!remote && (!Number.isInteger(nLocal) || nLocal < 1)) throw new UsageError(`servers must be >= 1, got ${nLocal}`);

  const servers: BridgeServer[] = [];
  const made: RemoteVecEnv[] = [];
  try {
    if (remote) {
      if (remote.length === 0) throw new UsageError('servers: give at least one endpoint');
      for (const r of remote) {
        const curve = r.curve ?? (r.keysDir ? loadCurveClientKeys(r.keysDir) : undefined);
        const target: RemoteServerOptions = { endpoint: r.endpoint, curve };
        servers.push(await BridgeServer.connect(target, serverOpts));
      }
    } else {
      servers.push(
        ...(await Promise.all(Array.from({ length: nLocal }, () => BridgeServer.spawn(opts.spawn ?? {}, serverOpts)))),
      );
    }
    const options = { finalObs: opts.finalObs ?? true, layout: opts.layout ?? 'NHWC' };
    const atari: Record<string, unknown> = { ...(opts.atari ?? {}) };
    if (atari.numThreads === undefined && !remote) {
      // ALE threads per group: share this machine's cores among the groups hosted here.
      atari.numThreads = Math.max(1, Math.floor(availableParallelism() / groups));
    }
    const sizes = splitEvenly(opts.numEnvs, groups);
    let offset = 0;
    for (let g = 0; g < groups; g++) {
      const minatar = opts.minatar ? { ...opts.minatar } : undefined;
      const spec = { env: opts.env, numEnvs: sizes[g], options, atari, minatar, seedOffset: offset };
      made.push(await RemoteVecEnv.create(servers[g % servers.length], spec));
      offset += sizes[g];
    }
    return new BridgeVecEnv(made, servers);
  } catch (e) {
    await Promise.all(made.map((g) => g.close().catch(() => {})));
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    throw e;
  }
}
