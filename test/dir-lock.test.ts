// The directory lock (src/util/dir-lock.ts): one holder, a one-line refusal naming it, and stale
// locks recognised (dead pid, a reused pid, a silent foreign host) and taken over by exactly one
// of several takers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  acquireDirLock,
  LOCK_FILE,
  LockHeldError,
  type LockRecord,
  lockState,
  processStartTime,
  staleReason,
} from '../src/util/dir-lock.js';

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-lock-'));
}

function record(over: Partial<LockRecord>): LockRecord {
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: '2026-01-01T00:00:00.000Z',
    procStart: processStartTime(process.pid),
    command: 'coordrl resume',
    nonce: 'n0',
    ...over,
  };
}

function writeLock(dir: string, rec: LockRecord, ageSeconds = 0): void {
  const file = path.join(dir, LOCK_FILE);
  writeFileSync(file, JSON.stringify(rec));
  const t = new Date(Date.now() - ageSeconds * 1000);
  utimesSync(file, t, t);
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid as number;
}

describe('dir lock', () => {
  it('one holder: a second taker gets one line naming pid, host, time and command; release frees it', () => {
    const dir = tmp();
    const a = acquireDirLock(dir, { command: 'coordrl resume', heartbeatSeconds: 0 });
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    let err: unknown;
    try {
      acquireDirLock(dir, { command: 'coordrl resume', heartbeatSeconds: 0, label: 'R' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^R is in use by pid ${process.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[^ ]+ \\(coordrl resume\\); wait for it or stop it$`,
      ),
    );
    a.release();
    expect(readdirSync(dir)).toEqual([]);
    const b = acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0 });
    expect(b.tookOver).toBeNull();
    b.release();
  });

  it('the holder record: pid, host, start time of the process (/proc/PID/stat field 22), command', () => {
    const dir = tmp();
    const a = acquireDirLock(dir, { command: 'coordrl ab', heartbeatSeconds: 0 });
    const rec = JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as LockRecord;
    expect(rec).toMatchObject({ pid: process.pid, host: hostname(), command: 'coordrl ab' });
    expect(rec.procStart).toMatch(/^\d+$/);
    expect(rec.procStart).toBe(processStartTime(process.pid));
    a.release();
  });

  it('stale: the holder pid is dead', () => {
    const dir = tmp();
    const pid = deadPid();
    writeLock(dir, record({ pid, nonce: 'dead' }));
    expect(lockState(dir)?.stale).toBe(`pid ${pid} is not running`);
    const lock = acquireDirLock(dir, { command: 'coordrl resume', heartbeatSeconds: 0 });
    expect(lock.tookOver?.holder.pid).toBe(pid);
    expect(lock.held()).toBe(true);
    lock.release();
  });

  it('stale: the pid is alive but is another process (different start time)', () => {
    const dir = tmp();
    writeLock(dir, record({ procStart: '1', nonce: 'reused' }));
    expect(lockState(dir)?.stale).toMatch(new RegExp(`^pid ${process.pid} is another process now`));
    const lock = acquireDirLock(dir, { command: 'coordrl resume', heartbeatSeconds: 0 });
    expect(lock.tookOver?.reason).toMatch(/another process/);
    lock.release();
  });

  it('not stale: a live pid with its own start time holds it', () => {
    const dir = tmp();
    writeLock(dir, record({ nonce: 'live' }));
    expect(lockState(dir)?.stale).toBeNull();
    expect(() => acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0 })).toThrow(LockHeldError);
  });

  it('another host: held while its heartbeat is fresh, stale once it is older than the timeout', () => {
    const dir = tmp();
    const foreign = record({ host: 'node-7.cluster', pid: 1, nonce: 'far' });
    writeLock(dir, foreign, 10);
    expect(lockState(dir, { staleSeconds: 60 })?.stale).toBeNull();
    expect(() => acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0, staleSeconds: 60 })).toThrow(
      /is in use by pid 1 on host node-7\.cluster/,
    );
    writeLock(dir, foreign, 120);
    expect(lockState(dir, { staleSeconds: 60 })?.stale).toMatch(/no heartbeat from host node-7\.cluster for 12\d s/);
    const lock = acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0, staleSeconds: 60 });
    expect(lock.tookOver?.holder.host).toBe('node-7.cluster');
    lock.release();
    // The same decision, directly: pid 1 is alive here, but a foreign host's pid says nothing.
    expect(staleReason(foreign, Date.now() - 5000, { staleSeconds: 60 })).toBeNull();
  });

  it("the holder's heartbeat keeps its lock fresh for other hosts", async () => {
    const dir = tmp();
    const lock = acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0.05 });
    const file = path.join(dir, LOCK_FILE);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(file, old, old);
    await new Promise((r) => setTimeout(r, 300));
    expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(5000);
    lock.release();
  });

  it('release leaves a lock that is no longer its own alone', () => {
    const dir = tmp();
    const lock = acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0 });
    writeLock(dir, record({ nonce: 'someone-else' }));
    expect(lock.held()).toBe(false);
    lock.release();
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).nonce).toBe('someone-else');
  });

  it('a holder whose lock was taken over says so once, and no longer touches it', async () => {
    const dir = tmp();
    const lock = acquireDirLock(dir, { command: 'x', heartbeatSeconds: 0.05 });
    const said: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      said.push(String(s));
      return true;
    });
    try {
      writeLock(dir, record({ nonce: 'thief' }), 3600);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      spy.mockRestore();
      lock.release();
    }
    expect(said.filter((l) => /is no longer locked by this process/.test(l))).toHaveLength(1);
    // Its heartbeat stopped: the other holder's file keeps its own (old) mtime.
    expect(Date.now() - statSync(path.join(dir, LOCK_FILE)).mtimeMs).toBeGreaterThan(3000_000);
  });

  it('a stale lock taken over by 6 processes at once: exactly one wins', async () => {
    const dir = tmp();
    writeLock(dir, record({ pid: deadPid(), nonce: 'dead' }));
    // The compiled module (dist/, from `npm run build`), in plain node processes.
    const mod = path.resolve(__dirname, '..', 'dist', 'src', 'util', 'dir-lock.js');
    // Each taker holds what it won for a while, so that a late taker sees it held.
    const script = `
      const { acquireDirLock } = await import(${JSON.stringify(mod)});
      try {
        const l = acquireDirLock(${JSON.stringify(dir)}, { command: 'taker', heartbeatSeconds: 0 });
        console.log('won');
        await new Promise((r) => setTimeout(r, 1500));
        l.release();
      } catch (e) {
        console.log(e.name === 'LockHeldError' ? 'held' : 'error ' + e.message);
      }`;
    const runner = [process.execPath, '--input-type=module', '-e', script];
    const outs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve) => {
            const c = spawn(runner[0], runner.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            c.stdout.on('data', (d) => {
              out += d;
            });
            c.on('close', () => resolve(out.trim()));
          }),
      ),
    );
    expect(outs.filter((o) => o === 'won')).toHaveLength(1);
    expect(outs.filter((o) => o === 'held')).toHaveLength(5);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);
});
