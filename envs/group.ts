// One vector environment hosted by one server ("env group"). Several groups may share a server
// connection; each has at most one request in flight.
import type { Connection } from './connection.js';
import { BridgeError, ServerFailure } from './errors.js';
import { type EpisodeWire, f32, frameArray, i32, type Reply, u8 } from './protocol.js';
import type { BridgeServer, Rebuildable } from './server.js';
import type {
  ActionSpace,
  EnvKind,
  EpisodeInfo,
  ObsArray,
  ObsDType,
  ObservationSpace,
  ResetResult,
  ServerStepStats,
  StepResult,
  VecEnv,
} from './types.js';

export interface GroupSpec {
  env: string;
  numEnvs: number;
  /** Options for every env (finalObs, layout). */
  options: Record<string, unknown>;
  /** Atari options (AtariOptions), ignored by the server for other envs. */
  atari: Record<string, unknown>;
  /** MinAtar options (MinAtarOptions), ignored by the server for other envs. */
  minatar?: Record<string, unknown>;
  /** Env slot of this group's first env in the whole vector: env i is seeded with seed + seedOffset + i. */
  seedOffset: number;
}

interface WireSpec {
  kind: EnvKind;
  env: string;
  numEnvs: number;
  observation: { shape: number[]; dtype: string; layout: string };
  action: { n: number; meanings: string[] };
  options: Record<string, unknown>;
}

const SEED_STRIDE_PER_RESTART = 1_000_003;

interface Made {
  handle: number;
  wire: WireSpec;
  chan: Connection;
  token: Uint8Array;
}

export class RemoteVecEnv implements VecEnv, Rebuildable {
  readonly server: BridgeServer;
  readonly spec: GroupSpec;
  readonly numEnvs: number;
  readonly observationSpace: ObservationSpace;
  readonly actionSpace: ActionSpace;
  readonly envId: string;
  readonly kind: EnvKind;
  /** Effective options as the server reports them. */
  readonly options: Record<string, unknown>;
  #handle: number;
  #chan: Connection;
  #token: Uint8Array;
  #inflight: Promise<StepResult> | null = null;
  #lastSeed: number | undefined;
  #restarts = 0;
  #cut: ResetResult | null = null;
  #closed = false;

  private constructor(server: BridgeServer, spec: GroupSpec, made: Made) {
    const wire = made.wire;
    this.server = server;
    this.spec = spec;
    this.#handle = made.handle;
    this.#chan = made.chan;
    this.#token = made.token;
    this.numEnvs = wire.numEnvs;
    const dtype = wire.observation.dtype;
    if (dtype !== 'uint8' && dtype !== 'float32')
      throw new BridgeError(`unsupported observation dtype ${dtype}`, 'protocol');
    this.observationSpace = Object.freeze({
      shape: Object.freeze([...wire.observation.shape]),
      dtype: dtype as ObsDType,
      layout: wire.observation.layout as ObservationSpace['layout'],
      size: wire.observation.shape.reduce((a, b) => a * b, 1),
      ...(wire.kind === 'minatar' ? { frameStack: 1 } : {}),
    });
    this.actionSpace = Object.freeze({ n: wire.action.n, meanings: Object.freeze([...wire.action.meanings]) });
    this.envId = wire.env;
    this.kind = wire.kind;
    this.options = wire.options;
  }

  /** Creates the env group on `server`. */
  static async create(server: BridgeServer, spec: GroupSpec): Promise<RemoteVecEnv> {
    const g = new RemoteVecEnv(server, spec, await RemoteVecEnv.#make(server, spec));
    server.host(g);
    return g;
  }

  static async #make(server: BridgeServer, spec: GroupSpec): Promise<Made> {
    const r = await server.request(
      {
        op: 'make',
        env: spec.env,
        numEnvs: spec.numEnvs,
        options: spec.options,
        atari: spec.atari,
        ...(spec.minatar ? { minatar: spec.minatar } : {}),
      },
      Math.max(server.requestTimeoutMs, 120_000),
    );
    const h = r.header;
    if (typeof h.endpoint !== 'string' || !(h.token instanceof Uint8Array)) {
      throw new BridgeError('make reply lacks the env group endpoint or token', 'protocol');
    }
    return {
      handle: h.handle as number,
      wire: h.spec as WireSpec,
      chan: server.openChannel(h.endpoint),
      token: Uint8Array.from(h.token),
    };
  }

  get restarts(): number {
    return this.#restarts;
  }

  get handle(): number {
    return this.#handle;
  }

  /** Called by the server after a restart: re-create the envs and queue a "cut" step result. */
  async rebuild(): Promise<void> {
    if (this.#closed) return;
    const made = await RemoteVecEnv.#make(this.server, this.spec);
    if (made.wire.numEnvs !== this.numEnvs || made.wire.action.n !== this.actionSpace.n) {
      throw new BridgeError('env server re-created a different environment after a restart', 'protocol');
    }
    this.#handle = made.handle;
    this.#chan = made.chan;
    this.#token = made.token;
    this.#restarts++;
    const seed =
      this.#lastSeed === undefined ? undefined : (this.#lastSeed + SEED_STRIDE_PER_RESTART * this.#restarts) % 2 ** 30;
    this.#cut = await this.#resetOnce(seed);
  }

  async reset(seed?: number): Promise<ResetResult> {
    this.#assertIdle('reset');
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31 - this.numEnvs)) {
      throw new RangeError(`seed must be an integer in [0, 2^31 - numEnvs), got ${seed}`);
    }
    this.#lastSeed = seed;
    this.#cut = null;
    try {
      return await this.#resetOnce(seed);
    } catch (e) {
      if (e instanceof ServerFailure) {
        await this.server.recover(e);
        this.#cut = null;
        return await this.#resetOnce(seed);
      }
      throw e;
    }
  }

  async #resetOnce(seed: number | undefined): Promise<ResetResult> {
    const r = await this.#chan.request(
      {
        op: 'reset',
        token: this.#token,
        seed: seed === undefined ? null : seed + this.spec.seedOffset,
      },
      this.server.requestTimeoutMs,
    );
    return {
      obs: this.#obs(r, 0),
      lives: r.header.lives == null ? null : i32(r.header.lives, this.numEnvs, 'lives'),
    };
  }

  step(actions: Int32Array): Promise<StepResult> {
    this.stepAsync(actions);
    return this.stepWait();
  }

  stepAsync(actions: Int32Array): void {
    this.#assertIdle('stepAsync');
    if (!(actions instanceof Int32Array) || actions.length !== this.numEnvs) {
      throw new TypeError(`actions must be an Int32Array of length ${this.numEnvs}`);
    }
    const p = this.#step(actions);
    p.catch(() => {}); // handled by stepWait's caller
    this.#inflight = p;
  }

  stepWait(): Promise<StepResult> {
    const p = this.#inflight;
    if (!p) return Promise.reject(new Error('stepWait() without a pending stepAsync()'));
    this.#inflight = null;
    return p;
  }

  /** The request is encoded synchronously (before this returns its promise): actions may be reused. */
  #step(actions: Int32Array): Promise<StepResult> {
    if (this.#closed) return Promise.reject(new Error('step on a closed VecEnv'));
    if (this.#cut) return Promise.resolve(this.#takeCut());
    const request = this.#chan.request(
      {
        op: 'step',
        token: this.#token,
        actions: new Uint8Array(actions.buffer, actions.byteOffset, actions.byteLength),
        dtype: 'int32',
      },
      this.server.requestTimeoutMs,
    );
    return request.then(
      (r) => this.#decodeStep(r),
      async (e: unknown) => {
        if (!(e instanceof ServerFailure)) throw e;
        await this.server.recover(e);
        return this.#takeCut();
      },
    );
  }

  #takeCut(): StepResult {
    const cut = this.#cut;
    if (!cut)
      throw new ServerFailure('env server restarted but this env group was not re-created', this.server.generation);
    this.#cut = null;
    const n = this.numEnvs;
    return {
      obs: cut.obs,
      rewards: new Float32Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n).fill(1),
      lives: cut.lives,
      finalObs: new Map(),
      episodes: [],
      restarted: true,
      cutEpisodes: Array.from({ length: n }, (_, i) => i),
    };
  }

  #obs(r: Reply, k: number): ObsArray {
    const desc = r.header.frames?.[k];
    const frame = r.frames[k];
    if (!desc || !frame) throw new BridgeError(`reply to '${r.header.op}' lacks observation frame ${k}`, 'protocol');
    return frameArray(frame, desc, this.observationSpace.dtype);
  }

  #decodeStep(r: Reply): StepResult {
    const h = r.header;
    const n = this.numEnvs;
    const obs = this.#obs(r, 0);
    const finalObs = new Map<number, ObsArray>();
    const fdesc = h.frames?.[1];
    if (fdesc && fdesc.name === 'final_obs') {
      const all = frameArray(r.frames[1], fdesc, this.observationSpace.dtype);
      const size = this.observationSpace.size;
      (fdesc.indices ?? []).forEach((env, j) => {
        finalObs.set(env, all.subarray(j * size, (j + 1) * size));
      });
    }
    const episodes: EpisodeInfo[] = ((h.episodes as EpisodeWire[] | undefined) ?? []).map((e) => {
      const info: EpisodeInfo = { env: e.index, score: e.return, length: e.length, truncated: e.truncated };
      if (e.lives !== undefined && e.lives !== null) info.lives = e.lives;
      return info;
    });
    return {
      obs,
      rewards: f32(h.rewards, n, 'rewards'),
      terminated: u8(h.terminated, n, 'terminated'),
      truncated: u8(h.truncated, n, 'truncated'),
      lives: h.lives == null ? null : i32(h.lives, n, 'lives'),
      finalObs,
      episodes,
      restarted: false,
      cutEpisodes: [],
      ...(typeof h.step_us === 'number' ? { envMs: h.step_us / 1000 } : {}),
    };
  }

  /** The server's own timing of this group's requests so far (the `stats` op; for profiles). */
  async serverStats(): Promise<ServerStepStats> {
    this.#assertIdle('serverStats');
    const h = (await this.#chan.request({ op: 'stats', token: this.#token }, this.server.requestTimeoutMs)).header;
    const { steps, stepSeconds, serveSeconds } = h;
    if (typeof steps !== 'number' || typeof stepSeconds !== 'number' || typeof serveSeconds !== 'number') {
      throw new BridgeError('stats reply lacks steps, stepSeconds or serveSeconds', 'protocol');
    }
    return { steps, stepSeconds, serveSeconds };
  }

  #assertIdle(what: string): void {
    if (this.#inflight) throw new Error(`${what}() while a step is in flight: call stepWait() first`);
  }

  /** Closes the envs on the server (the server itself is closed by its owner). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#inflight) await this.#inflight.catch(() => {});
    this.#inflight = null;
    this.#closed = true;
    this.server.unhost(this);
    this.server.closeChannel(this.#chan);
    await this.server.request({ op: 'close', handle: this.#handle }, 10_000).catch(() => {});
  }
}
