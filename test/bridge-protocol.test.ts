// The client's side of the protocol: version checks, a remote server with CURVE (authorized and
// refused keys), and a VecEnv made of connections to servers it did not start.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curveKeyPair } from 'zeromq';
import {
  BridgeError,
  BridgeServer,
  bridgeDir,
  Connection,
  defaultPython,
  loadCurveClientKeys,
  makeVecEnv,
  PROTOCOL_VERSION,
  ServerFailure,
  type SpawnedServer,
  spawnServer,
  stopServer,
} from '../envs/index.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(tmpdir(), 'coordrl-bridge-test-'));
const keysDir = path.join(tmp, 'keys');
let secure: SpawnedServer;

beforeAll(async () => {
  await run(defaultPython(), ['-m', 'coordrl_bridge', '--gen-keys', keysDir], { cwd: bridgeDir() });
  secure = await spawnServer({ bind: 'tcp://127.0.0.1:0', args: ['--keys', keysDir] });
});

afterAll(async () => {
  if (secure) await stopServer(secure);
  rmSync(tmp, { recursive: true, force: true });
});

describe('protocol', () => {
  test('a version mismatch fails the handshake with a clear message', async () => {
    const server = await BridgeServer.spawn();
    const conn = new Connection(server.endpoint);
    try {
      expect(server.info.protocol).toBe(PROTOCOL_VERSION);
      const err = await conn.request({ op: 'hello', v: PROTOCOL_VERSION + 1 }, 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BridgeError);
      expect((err as BridgeError).code).toBe('version_mismatch');
      expect((err as BridgeError).message).toMatch(/client speaks 2.*speaks 1/);
      const ok = await conn.request({ op: 'ping' }, 5000); // the server keeps serving
      expect(ok.header.ok).toBe(true);
      expect(await server.ping()).toBeLessThan(5000);
    } finally {
      conn.close();
      await server.close();
    }
  });
});

describe('remote servers with CURVE', () => {
  test('the ready line names a TCP endpoint and the server key', () => {
    expect(secure.ready.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(secure.ready.curve).toBe(true);
    expect(secure.ready.serverPublicKey).toBe(loadCurveClientKeys(keysDir).serverPublicKey);
  });

  test('authorized keys: a VecEnv over a server it did not start', async () => {
    const env = await makeVecEnv({
      env: 'CartPole-v1',
      numEnvs: 2,
      groups: 2,
      servers: [{ endpoint: secure.ready.endpoint, keysDir }],
    });
    try {
      expect(env.servers[0].pid).toBeNull();
      await env.reset(0);
      const r = await env.step(Int32Array.from([0, 1]));
      expect(r.obs.length).toBe(8);
    } finally {
      await env.close();
    }
    expect(secure.child.exitCode).toBeNull(); // closing the VecEnv leaves a remote server running
  });

  test('unknown client keys are refused', async () => {
    const stranger = curveKeyPair();
    const { serverPublicKey } = loadCurveClientKeys(keysDir);
    const err = await BridgeServer.connect(
      { endpoint: secure.ready.endpoint, curve: { serverPublicKey, ...stranger } },
      { requestTimeoutMs: 1000 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerFailure);
    expect((err as Error).message).toMatch(/no reply.*CURVE/);
  });

  test('a remote server is not restarted from here', async () => {
    const env = await makeVecEnv({
      env: 'CartPole-v1',
      numEnvs: 1,
      servers: [{ endpoint: secure.ready.endpoint, keysDir }],
    });
    try {
      expect(env.servers[0].canRestart).toBe(false);
    } finally {
      await env.close();
    }
  });
});
