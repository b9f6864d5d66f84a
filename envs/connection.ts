// One DEALER socket to one server, with request ids so that several requests (one per env group)
// can be in flight and their replies come back in any order. zeromq.js 6 rules followed here:
// one pending receive (a single read loop) and one pending send (a send queue) per socket,
// linger 0, and every send gets a fresh buffer that is never reused.
import { Dealer } from 'zeromq';
import { BridgeError, ServerFailure } from './errors.js';
import { decodeHeader, encodeHeader, PROTOCOL_VERSION, type Reply } from './protocol.js';
import type { CurveClientKeys } from './types.js';

/** Replies carry observations: allow large ones, but not unbounded (msgpack decoding has no limit). */
export const CLIENT_MAX_MESSAGE_SIZE = 512 * 1024 * 1024;

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  /** performance.now() past which the server counts as hung. */
  deadline: number;
  timeoutMs: number;
  op: string;
}

/** How often pending requests are checked against their deadlines (one timer per connection). */
const WATCHDOG_MS = 100;

export interface ConnectionOptions {
  curve?: CurveClientKeys;
  /** Which server incarnation this connection talks to (tags failures). */
  generation?: number;
  maxMessageSize?: number;
}

export class Connection {
  readonly endpoint: string;
  readonly generation: number;
  #sock: Dealer;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #sendQueue: Buffer[] = [];
  #sending = false;
  #watchdog: NodeJS.Timeout | null = null;
  #failure: ServerFailure | null = null;
  #closed = false;
  /** Called once when the connection fails (timeout, socket error); not on close(). */
  onFailure: ((err: ServerFailure) => void) | null = null;

  constructor(endpoint: string, opts: ConnectionOptions = {}) {
    this.endpoint = endpoint;
    this.generation = opts.generation ?? 0;
    this.#sock = new Dealer({
      linger: 0,
      maxMessageSize: opts.maxMessageSize ?? CLIENT_MAX_MESSAGE_SIZE,
      ...(opts.curve
        ? {
            curveServerKey: opts.curve.serverPublicKey,
            curvePublicKey: opts.curve.publicKey,
            curveSecretKey: opts.curve.secretKey,
          }
        : {}),
    });
    this.#sock.connect(endpoint);
    void this.#readLoop();
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Sends `header` (v and id are added) and resolves with the reply; rejects with BridgeError for an
   * error reply, ServerFailure when the server does not answer within timeoutMs or the socket fails.
   * The header is encoded before this returns: the caller may reuse its arrays at once. */
  request(header: Record<string, unknown>, timeoutMs: number): Promise<Reply> {
    if (this.#closed) return Promise.reject(new ServerFailure('connection closed', this.generation));
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId;
    this.#nextId = id >= 0x7fffffff ? 1 : id + 1;
    const op = String(header.op);
    const buf = encodeHeader({ v: PROTOCOL_VERSION, id, ...header });
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs, op });
      this.#armWatchdog();
      this.#send(buf);
    });
  }

  /** Sends without waiting when the socket is free; otherwise queues (one pending send per socket). */
  #send(buf: Buffer): void {
    if (this.#sending) {
      this.#sendQueue.push(buf);
      return;
    }
    this.#sending = true;
    this.#sock.send(buf).then(
      () => {
        this.#sending = false;
        const next = this.#sendQueue.shift();
        if (next && !this.#closed && !this.#failure) this.#send(next);
      },
      (e: unknown) => {
        this.#sending = false;
        if (!this.#closed)
          this.#fail(new ServerFailure(`send to ${this.endpoint} failed: ${String(e)}`, this.generation));
      },
    );
  }

  #armWatchdog(): void {
    if (this.#watchdog) return;
    this.#watchdog = setInterval(() => {
      if (this.#pending.size === 0) {
        clearInterval(this.#watchdog!);
        this.#watchdog = null;
        return;
      }
      const now = performance.now();
      for (const p of this.#pending.values()) {
        if (now > p.deadline) {
          this.#fail(
            new ServerFailure(
              `no reply to '${p.op}' from the env server at ${this.endpoint} within ${p.timeoutMs} ms (hung or unreachable)`,
              this.generation,
            ),
          );
          return;
        }
      }
    }, WATCHDOG_MS);
  }

  /** Rejects every pending request with `err` and stops using the socket. */
  fail(err: ServerFailure): void {
    this.#fail(err);
  }

  #fail(err: ServerFailure): void {
    if (this.#failure || this.#closed) return;
    this.#failure = err;
    this.#rejectAll(err);
    this.onFailure?.(err);
  }

  #rejectAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#sendQueue.length = 0;
    if (this.#watchdog) {
      clearInterval(this.#watchdog);
      this.#watchdog = null;
    }
    for (const p of pending) p.reject(err);
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const frames = await this.#sock.receive();
        this.#dispatch(frames);
      }
    } catch (e) {
      if (!this.#closed)
        this.#fail(new ServerFailure(`receive from ${this.endpoint} failed: ${String(e)}`, this.generation));
    }
  }

  #dispatch(frames: Buffer[]): void {
    let header: Reply['header'];
    try {
      header = decodeHeader(frames[0]);
    } catch (e) {
      this.#fail(new ServerFailure(`undecodable reply from ${this.endpoint}: ${String(e)}`, this.generation));
      return;
    }
    const id = typeof header.id === 'number' ? header.id : -1;
    const p = this.#pending.get(id);
    if (!p) {
      // A reply without a request: the server could not read our id. Should not happen with this client.
      if (!header.ok && header.error) {
        this.#fail(new ServerFailure(`env server error without request id: ${header.error.message}`, this.generation));
      }
      return;
    }
    this.#pending.delete(id);
    if (header.ok) {
      p.resolve({ header, frames: frames.slice(1) });
    } else {
      const err = header.error ?? { code: 'unknown', message: 'error reply without details' };
      const { code, message, ...details } = err;
      p.reject(new BridgeError(`env server: ${message}`, code, details));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectAll(new ServerFailure('connection closed', this.generation));
    this.#sock.close();
  }
}
