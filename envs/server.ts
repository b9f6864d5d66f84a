// A connection to one env server, spawned here (restartable) or remote (not restartable).
import { Connection } from './connection.js';
import { BridgeError, ServerFailure } from './errors.js';
import { processInterrupted, type SpawnedServer, type SpawnOptions, spawnServer, stopServer } from './process.js';
import { PROTOCOL_VERSION, type Reply } from './protocol.js';
import type { CurveClientKeys } from './types.js';

export interface RemoteServerOptions {
  endpoint: string;
  curve?: CurveClientKeys;
}

export interface ServerOptions {
  /** Timeout of reset/step/ping requests: past it the server counts as hung. Default 60 s. */
  requestTimeoutMs?: number;
  /** Restarts allowed (spawned servers only) before giving up. Default 5. */
  maxRestarts?: number;
}

/** Something hosted on a server that must be re-created after a restart. */
export interface Rebuildable {
  rebuild(): Promise<void>;
}

export interface HelloInfo {
  server: string;
  version: string;
  protocol: number;
  pid: number;
  maxMessageSize: number;
  versions: Record<string, string>;
}

export class BridgeServer {
  readonly requestTimeoutMs: number;
  readonly maxRestarts: number;
  #spawnOpts: SpawnOptions | null;
  #spawned: SpawnedServer | null = null;
  #conn: Connection;
  #generation = 0;
  #restarts = 0;
  #recovering: Promise<void> | null = null;
  #closed = false;
  #hosted = new Set<Rebuildable>();
  #channels = new Set<Connection>();
  #curve: CurveClientKeys | undefined;
  info: HelloInfo;

  private constructor(
    conn: Connection,
    info: HelloInfo,
    spawned: SpawnedServer | null,
    spawnOpts: SpawnOptions | null,
    opts: ServerOptions,
    curve?: CurveClientKeys,
  ) {
    this.#conn = conn;
    this.#curve = curve;
    this.info = info;
    this.#spawned = spawned;
    this.#spawnOpts = spawnOpts;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.maxRestarts = opts.maxRestarts ?? 5;
    this.#watchChild();
  }

  /** Starts a server child process and connects to it. */
  static async spawn(spawnOpts: SpawnOptions = {}, opts: ServerOptions = {}): Promise<BridgeServer> {
    const { conn, info, spawned } = await BridgeServer.#start(spawnOpts, 0);
    return new BridgeServer(conn, info, spawned, spawnOpts, opts);
  }

  /** Connects to a running server (e.g. `coordrl serve` on another machine). */
  static async connect(remote: RemoteServerOptions, opts: ServerOptions = {}): Promise<BridgeServer> {
    const conn = new Connection(remote.endpoint, { curve: remote.curve });
    const info = await BridgeServer.#hello(conn, opts.requestTimeoutMs ?? 10_000).catch((e: unknown) => {
      conn.close();
      throw e instanceof ServerFailure
        ? new ServerFailure(
            `${e.message}${remote.curve ? ' (wrong CURVE keys are refused silently)' : ''}; is \`coordrl serve\` running there?`,
            0,
          )
        : e;
    });
    return new BridgeServer(conn, info, null, null, opts, remote.curve);
  }

  static async #start(
    spawnOpts: SpawnOptions,
    generation: number,
  ): Promise<{ conn: Connection; info: HelloInfo; spawned: SpawnedServer }> {
    const spawned = await spawnServer(spawnOpts);
    const conn = new Connection(spawned.ready.endpoint, { generation });
    try {
      const info = await BridgeServer.#hello(conn, spawnOpts.startTimeoutMs ?? 60_000);
      return { conn, info, spawned };
    } catch (e) {
      conn.close();
      await stopServer(spawned, 0);
      throw e;
    }
  }

  static async #hello(conn: Connection, timeoutMs: number): Promise<HelloInfo> {
    const r = await conn.request({ op: 'hello', client: 'coordconv-rl/envs' }, timeoutMs);
    const h = r.header as unknown as HelloInfo;
    if (h.protocol !== PROTOCOL_VERSION) {
      throw new BridgeError(
        `env server speaks protocol ${h.protocol}, this client ${PROTOCOL_VERSION}; update one side`,
        'version_mismatch',
      );
    }
    return h;
  }

  #watchChild(): void {
    const spawned = this.#spawned;
    if (!spawned) return;
    const generation = this.#generation;
    spawned.child.once('exit', (code, signal) => {
      if (this.#closed || generation !== this.#generation) return;
      const tail = spawned.stderrTail().split('\n').slice(-5).join(' | ');
      this.#failAll(
        new ServerFailure(
          `env server (pid ${spawned.ready.pid}) exited (${signal ?? `code ${code}`}): ${tail}`,
          generation,
        ),
      );
    });
    this.#conn.onFailure = (e) => this.#onConnectionFailure(e);
  }

  /** A connection timed out or broke: the server is hung or gone; fail every channel, kill a child. */
  #onConnectionFailure(e: ServerFailure): void {
    if (e.generation !== this.#generation) return;
    this.#failAll(e);
    const child = this.#spawned?.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  #failAll(e: ServerFailure): void {
    this.#conn.fail(e);
    for (const c of this.#channels) c.fail(e);
  }

  /**
   * Opens a data channel to an env group's own endpoint (from its make reply). For TCP the host is the
   * one this client reached the server at (the server may report a wildcard address).
   */
  openChannel(endpoint: string): Connection {
    let target = endpoint;
    if (endpoint.startsWith('tcp://') && this.#conn.endpoint.startsWith('tcp://')) {
      const port = endpoint.slice(endpoint.lastIndexOf(':') + 1);
      const base = this.#conn.endpoint;
      target = `${base.slice(0, base.lastIndexOf(':'))}:${port}`;
    }
    const c = new Connection(target, { curve: this.#curve, generation: this.#generation });
    c.onFailure = (e) => this.#onConnectionFailure(e);
    this.#channels.add(c);
    return c;
  }

  /** Closes a channel opened with openChannel. */
  closeChannel(c: Connection): void {
    this.#channels.delete(c);
    c.close();
  }

  get endpoint(): string {
    return this.#conn.endpoint;
  }

  /** pid of the spawned server process (null for a remote server). */
  get pid(): number | null {
    return this.#spawned?.ready.pid ?? null;
  }

  get generation(): number {
    return this.#generation;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get canRestart(): boolean {
    return this.#spawnOpts !== null && !this.#closed && !processInterrupted() && this.#restarts < this.maxRestarts;
  }

  host(x: Rebuildable): void {
    this.#hosted.add(x);
  }

  unhost(x: Rebuildable): void {
    this.#hosted.delete(x);
  }

  /** Sends a request on the current connection (see Connection.request). */
  request(header: Record<string, unknown>, timeoutMs = this.requestTimeoutMs): Promise<Reply> {
    if (this.#closed) return Promise.reject(new ServerFailure('env server connection is closed', this.#generation));
    return this.#conn.request(header, timeoutMs);
  }

  /** Round trip of a tiny message, in milliseconds. */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.request({ op: 'ping' });
    return performance.now() - t0;
  }

  /**
   * Restarts a spawned server after `failure` and re-creates everything hosted on it. Several callers
   * may report the same failure: one restart serves them all. Throws when no restart is possible.
   */
  recover(failure: ServerFailure): Promise<void> {
    if (this.#recovering) return this.#recovering;
    if (failure.generation !== this.#generation) return Promise.resolve(); // already replaced
    if (!this.canRestart) {
      const why = this.#closed
        ? 'closed'
        : processInterrupted()
          ? 'interrupted'
          : this.#spawnOpts === null
            ? 'a remote server cannot be restarted from here'
            : `gave up after ${this.#restarts} restarts`;
      return Promise.reject(new ServerFailure(`${failure.message} (${why})`, failure.generation));
    }
    this.#recovering = this.#restart().finally(() => {
      this.#recovering = null;
    });
    return this.#recovering;
  }

  async #restart(): Promise<void> {
    this.#restarts++;
    const old = this.#spawned;
    this.#conn.close();
    for (const c of this.#channels) c.close();
    this.#channels.clear();
    if (old) await stopServer(old, 0);
    const { conn, info, spawned } = await BridgeServer.#start(this.#spawnOpts!, this.#generation + 1);
    if (this.#closed) {
      conn.close();
      await stopServer(spawned);
      throw new ServerFailure('env server connection is closed', this.#generation);
    }
    this.#conn = conn;
    this.info = info;
    this.#spawned = spawned;
    this.#generation++;
    this.#watchChild();
    for (const x of this.#hosted) await x.rebuild();
  }

  /** Closes the connection and stops a spawned server (waits until the process is gone). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#recovering) await this.#recovering.catch(() => {});
    for (const c of this.#channels) c.close();
    this.#channels.clear();
    this.#conn.close();
    if (this.#spawned) await stopServer(this.#spawned);
  }
}
