// `coordrl bench transport`: the floor of one local request/reply between Node and a Python process,
// with nothing else in it (no env, no checks, no MessagePack): ZeroMQ over ipc:// (zeromq.js DEALER
// to a pyzmq ROUTER, what the bridge uses) against a raw Unix stream socket (node:net to Python's
// socket module). Plus what MessagePack costs on our side for a real step request and reply header.
// It says what a lock-step env server can reach at best, against an env stepped in-process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Dealer } from 'zeromq';
import { bridgeDir, defaultPython } from '../../envs/paths.js';
import { decodeHeader, encodeHeader } from '../../envs/protocol.js';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { note } from '../util/output.js';
import { percentile } from './timing.js';

export interface LatencyStats {
  p50Us: number;
  p95Us: number;
  meanUs: number;
}

export interface TransportBenchResult {
  roundTrips: number;
  requestBytes: number;
  replyBytes: number;
  zmqIpc: LatencyStats;
  unixSocket: LatencyStats;
  /** Node-side MessagePack work of one step: encode the request, decode a reply header. */
  msgpackUs: { encodeRequest: number; decodeReply: number };
}

export const MAX_REPLY_BYTES = 1 << 20;
export const MAX_ROUND_TRIPS = 1_000_000;

function stats(us: number[]): LatencyStats {
  const sorted = [...us].sort((a, b) => a - b);
  return {
    p50Us: percentile(sorted, 50, 'nearest'),
    p95Us: percentile(sorted, 95, 'nearest'),
    meanUs: us.reduce((s, x) => s + x, 0) / us.length,
  };
}

/** A step request as the client sends it (header only; CartPole's one int32 action). */
function stepRequest(id: number): Buffer {
  return encodeHeader({ v: 1, id, op: 'step', token: new Uint8Array(16), actions: new Uint8Array(4), dtype: 'int32' });
}

/** Starts the Python echo and resolves once it listens. */
async function startEcho(transport: 'zmq' | 'unix', endpoint: string, replyBytes: number, count: number) {
  const args = ['-m', 'coordrl_bridge.tools', 'echo', '--transport', transport, '--endpoint', endpoint];
  args.push('--reply-bytes', String(replyBytes), '--count', String(count));
  const python = defaultPython();
  const child = spawn(python, args, { cwd: bridgeDir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new UserFacingError(`cannot run ${python}: ${e.message}`)));
    child.once('exit', (code) => reject(new UserFacingError(`the Python echo exited (${code}): ${err.trim()}`)));
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
  });
  return child;
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGTERM');
}

async function zmqRoundTrips(endpoint: string, n: number, warmup: number): Promise<number[]> {
  const sock = new Dealer({ linger: 0, maxMessageSize: MAX_REPLY_BYTES + 1024 });
  sock.connect(endpoint);
  const us: number[] = [];
  try {
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      await sock.send(stepRequest(i));
      await sock.receive();
      if (i >= warmup) us.push((performance.now() - t0) * 1000);
    }
  } finally {
    sock.close();
  }
  return us;
}

async function unixRoundTrips(file: string, n: number, warmup: number, replyBytes: number): Promise<number[]> {
  const conn = net.createConnection(file);
  conn.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    conn.once('connect', resolve);
    conn.once('error', reject);
  });
  // One reply is 4 length bytes and replyBytes: count bytes until a whole one arrived.
  let want = 0;
  let got = 0;
  let done: (() => void) | null = null;
  conn.on('data', (d: Buffer) => {
    got += d.byteLength;
    if (got >= want && done) {
      const r = done;
      done = null;
      r();
    }
  });
  const us: number[] = [];
  try {
    for (let i = 0; i < n + warmup; i++) {
      const body = stepRequest(i);
      const framed = Buffer.allocUnsafe(4 + body.byteLength);
      framed.writeUInt32LE(body.byteLength, 0);
      body.copy(framed, 4);
      const t0 = performance.now();
      got = 0;
      want = 4 + replyBytes;
      const replied = new Promise<void>((resolve) => {
        done = resolve;
      });
      conn.write(framed);
      await replied;
      if (i >= warmup) us.push((performance.now() - t0) * 1000);
    }
  } finally {
    conn.destroy();
  }
  return us;
}

/** Microseconds per call of `fn`, over `n` calls. */
function perCall(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < 1000; i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

export async function benchTransport(opts: { roundTrips: number; replyBytes: number }): Promise<TransportBenchResult> {
  if (opts.replyBytes > MAX_REPLY_BYTES) throw new UsageError(`--reply-bytes must be at most ${MAX_REPLY_BYTES}`);
  const warmup = Math.min(1000, opts.roundTrips);
  const count = opts.roundTrips + warmup;
  const dir = mkdtempSync(path.join(tmpdir(), 'coordrl-transport-'));
  try {
    const zEndpoint = `ipc://${path.join(dir, 'zmq.sock')}`;
    note(`zeromq ipc: ${opts.roundTrips} round trips`);
    const z = await startEcho('zmq', zEndpoint, opts.replyBytes, count);
    let zmqUs: number[];
    try {
      zmqUs = await zmqRoundTrips(zEndpoint, opts.roundTrips, warmup);
    } finally {
      stop(z);
    }
    const uFile = path.join(dir, 'raw.sock');
    note(`unix socket: ${opts.roundTrips} round trips`);
    const u = await startEcho('unix', uFile, opts.replyBytes, count);
    let unixUs: number[];
    try {
      unixUs = await unixRoundTrips(uFile, opts.roundTrips, warmup, opts.replyBytes);
    } finally {
      stop(u);
    }
    // A CartPole step reply header as the server packs it (python-bridge/coordrl_bridge/protocol.py).
    const reply = encodeHeader({
      v: 1,
      id: 7,
      ok: true,
      op: 'step',
      handle: 1,
      rewards: new Uint8Array(4),
      terminated: new Uint8Array(1),
      truncated: new Uint8Array(1),
      lives: null,
      episodes: [],
      frames: [{ name: 'obs', dtype: 'float32', shape: [1, 4] }],
    });
    return {
      roundTrips: opts.roundTrips,
      requestBytes: stepRequest(0).byteLength,
      replyBytes: opts.replyBytes,
      zmqIpc: stats(zmqUs),
      unixSocket: stats(unixUs),
      msgpackUs: {
        encodeRequest: perCall(50_000, (i) => stepRequest(i)),
        decodeReply: perCall(50_000, () => decodeHeader(reply)),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTransport(r: TransportBenchResult): string {
  const row = (name: string, s: LatencyStats) =>
    `  ${name}  p50 ${s.p50Us.toFixed(1)} us, p95 ${s.p95Us.toFixed(1)} us, mean ${s.meanUs.toFixed(1)} us`;
  return [
    `round trip, ${r.requestBytes}-byte request, ${r.replyBytes}-byte reply (${r.roundTrips} each):`,
    row('zeromq ipc://  ', r.zmqIpc),
    row('raw unix socket', r.unixSocket),
    `  msgpack in Node: encode step request ${r.msgpackUs.encodeRequest.toFixed(2)} us, decode step reply header ${r.msgpackUs.decodeReply.toFixed(2)} us`,
  ].join('\n');
}
