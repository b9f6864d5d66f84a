// An exclusive lock on a directory (a run or an experiment): DIR/.lock, a small JSON file that
// says who holds it. Two trainers writing one run corrupt its metrics and checkpoints; with the
// lock the second one says who holds the run and exits 2 before it has written anything.
//
// Taking it: the holder's record is written to a private temp file first and then hard-linked to
// DIR/.lock; link(2) fails with EEXIST when the lock exists, atomically, also on NFS (where
// O_EXCL was long unreliable), and the lock file is complete from its first instant.
// Stale locks (the holder died without releasing, e.g. SIGKILL, a node crash):
//   same host: stale when the pid is dead, or alive with another start time (a reused pid);
//   other host (a shared file system under Slurm): stale when the holder's heartbeat, the lock
//   file's mtime that the holder refreshes every few seconds, is older than the timeout.
// Taking over a stale lock: rename it to a name of one's own (only one taker's rename of that
// file can succeed), check the renamed file is the stale record that was judged (not a fresh
// lock another taker made meanwhile: then it is put back), delete it, and link a new lock as
// above; so two takers never both win.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { UsageError } from './cli-errors.js';
import { pidAlive } from './pid.js';

export const LOCK_FILE = '.lock';

/** Seconds between heartbeats of a holder, and the age at which another host's lock counts as stale. */
export const DEFAULT_HEARTBEAT_S = 15;
export const DEFAULT_STALE_S = 90;

export interface LockRecord {
  pid: number;
  host: string;
  /** When the lock was taken (ISO time). */
  startedAt: string;
  /** The holder's start time in clock ticks since boot (/proc/PID/stat field 22); null off Linux. */
  procStart: string | null;
  /** What holds it, e.g. `coordrl resume`. */
  command: string;
  /** Unique per taking: tells this lock from a later one of the same process. */
  nonce: string;
}

export interface LockOptions {
  /** What the holder is doing, for the message the next comer reads (e.g. `coordrl resume`). */
  command: string;
  /** Default DEFAULT_HEARTBEAT_S; 0: no heartbeat (tests). */
  heartbeatSeconds?: number;
  staleSeconds?: number;
  /** How the directory is named in messages (default the path). */
  label?: string;
}

/** The directory is held by a live process: one line, exit 2 (UsageError). */
export class LockHeldError extends UsageError {
  override name = 'LockHeldError';
  constructor(
    readonly dir: string,
    readonly holder: LockRecord,
    label = dir,
  ) {
    super(describeHolder(label, holder));
  }
}

export function describeHolder(label: string, h: LockRecord): string {
  return `${label} is in use by pid ${h.pid} on host ${h.host} since ${h.startedAt} (${h.command}); wait for it or stop it`;
}

/** The start time of a process (field 22 of /proc/PID/stat), or null when unknown (no /proc, no such pid). */
export function processStartTime(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (the command) is in parentheses and may hold spaces and ')': split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field 22 is rest[19].
  return rest[19] ?? null;
}

/** Why a lock no longer protects anything (null: its holder is alive). */
export function staleReason(
  rec: LockRecord,
  mtimeMs: number,
  opts: { staleSeconds?: number; host?: string; now?: number } = {},
): string | null {
  const host = opts.host ?? hostname();
  if (rec.host === host) {
    if (!pidAlive(rec.pid)) return `pid ${rec.pid} is not running`;
    const start = processStartTime(rec.pid);
    if (rec.procStart !== null && start !== null && start !== rec.procStart) {
      return `pid ${rec.pid} is another process now (started at tick ${start}, the holder at ${rec.procStart})`;
    }
    return null;
  }
  const ageS = ((opts.now ?? Date.now()) - mtimeMs) / 1000;
  const limit = opts.staleSeconds ?? DEFAULT_STALE_S;
  return ageS > limit ? `no heartbeat from host ${rec.host} for ${Math.round(ageS)} s (limit ${limit} s)` : null;
}

function parseRecord(text: string): LockRecord | null {
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (typeof r.pid !== 'number' || typeof r.host !== 'string' || typeof r.nonce !== 'string') return null;
    return {
      pid: r.pid,
      host: r.host,
      startedAt: String(r.startedAt ?? '?'),
      procStart: typeof r.procStart === 'string' ? r.procStart : null,
      command: String(r.command ?? '?'),
      nonce: r.nonce,
    };
  } catch {
    return null;
  }
}

/** The lock file's record and mtime, or null when there is none (or it vanished while being read). */
function readLock(file: string): { rec: LockRecord | null; mtimeMs: number } | null {
  try {
    const mtimeMs = statSync(file).mtimeMs;
    return { rec: parseRecord(readFileSync(file, 'utf8')), mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export interface LockState {
  holder: LockRecord;
  /** null: the holder is alive. */
  stale: string | null;
}

/** Who holds DIR's lock, and whether that holder is gone; null when nobody does. */
export function lockState(dir: string, opts: { staleSeconds?: number } = {}): LockState | null {
  const got = readLock(path.join(dir, LOCK_FILE));
  if (!got) return null;
  const holder = got.rec ?? unreadableHolder(got.mtimeMs);
  const stale = got.rec
    ? staleReason(got.rec, got.mtimeMs, opts)
    : // A lock file is complete from its first instant (link), so an unreadable one was damaged
      // afterwards; give it the heartbeat timeout before it is broken, as a foreign host's.
      staleReason(holder, got.mtimeMs, { ...opts, host: `${holder.host} (not this one)` });
  return { holder, stale };
}

function unreadableHolder(mtimeMs: number): LockRecord {
  return {
    pid: 0,
    host: '(unreadable lock file)',
    startedAt: new Date(mtimeMs).toISOString(),
    procStart: null,
    command: 'unknown',
    nonce: '',
  };
}

/** A held lock: `release()` once done (also done at process exit). */
export class DirLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;
  private lostSaid = false;
  private readonly onExit = () => this.release();

  constructor(
    readonly dir: string,
    readonly record: LockRecord,
    heartbeatSeconds: number,
    /** The stale lock this one replaced, if any (for a note). */
    readonly tookOver: { holder: LockRecord; reason: string } | null,
  ) {
    if (heartbeatSeconds > 0) {
      this.timer = setInterval(() => this.beat(), heartbeatSeconds * 1000);
      this.timer.unref();
    }
    // process.exit() (a second Ctrl-C) and uncaught errors skip `finally` blocks; 'exit' still runs.
    process.on('exit', this.onExit);
  }

  get file(): string {
    return path.join(this.dir, LOCK_FILE);
  }

  /** Still ours? (false when someone broke it, e.g. after a long freeze of this process). */
  held(): boolean {
    return !this.released && readLock(this.file)?.rec?.nonce === this.record.nonce;
  }

  /** Refreshes the lock file's mtime: other hosts see the holder is alive. */
  beat(): void {
    try {
      if (!this.held()) {
        // Broken by another process (this one looked dead to it, e.g. frozen past the timeout):
        // say so once; the other process now owns the directory.
        if (!this.lostSaid && !this.released) {
          this.lostSaid = true;
          process.stderr.write(
            `\nwarning: ${this.dir} is no longer locked by this process (another one took its lock over)\n`,
          );
        }
        return;
      }
      const now = new Date();
      utimesSync(this.file, now, now);
    } catch {
      // A heartbeat that fails (a file server hiccup) is retried at the next tick.
    }
  }

  release(): void {
    if (this.released) return;
    if (this.timer) clearInterval(this.timer);
    process.off('exit', this.onExit);
    try {
      if (this.held()) unlinkSync(this.file);
    } catch {
      // Gone already, or the directory is: nothing is held any more either way.
    }
    this.released = true;
  }
}

function newRecord(command: string): LockRecord {
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    procStart: processStartTime(process.pid),
    command,
    nonce: randomBytes(8).toString('hex'),
  };
}

/** Writes `rec` to a private file beside the lock and links it as the lock; false when one exists. */
function tryLink(dir: string, rec: LockRecord): boolean {
  const tmp = path.join(dir, `${LOCK_FILE}.${rec.nonce}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(rec)}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path.join(dir, LOCK_FILE));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Removes the lock file if it still is the stale one judged (`nonce`, or an unreadable one);
 * true when it did, false when someone else changed the lock meanwhile.
 */
function breakStale(dir: string, judged: LockRecord): boolean {
  const file = path.join(dir, LOCK_FILE);
  const mine = path.join(dir, `${LOCK_FILE}.${randomBytes(8).toString('hex')}.stale`);
  try {
    renameSync(file, mine);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false; // another taker was first
    throw e;
  }
  let text = '';
  try {
    text = readFileSync(mine, 'utf8');
  } catch {
    // Unreadable now: it is compared as such below.
  }
  const got = parseRecord(text);
  if ((got?.nonce ?? '') !== judged.nonce) {
    // A fresh lock taken after the stale one was judged: put it back where its holder expects it.
    try {
      linkSync(mine, file);
    } catch {
      // Someone took the lock in between; theirs stands.
    }
    unlinkSync(mine);
    return false;
  }
  unlinkSync(mine);
  return true;
}

/**
 * Takes DIR's lock (DIR must exist), breaking a stale one; throws LockHeldError when a live
 * process holds it. Nothing else in DIR is touched.
 */
export function acquireDirLock(dir: string, opts: LockOptions): DirLock {
  const rec = newRecord(opts.command);
  let tookOver: { holder: LockRecord; reason: string } | null = null;
  // A few rounds: each lost race (another taker broke the stale lock first) is one round.
  for (let round = 0; round < 5; round++) {
    if (tryLink(dir, rec)) {
      return new DirLock(dir, rec, opts.heartbeatSeconds ?? DEFAULT_HEARTBEAT_S, tookOver);
    }
    const state = lockState(dir, { staleSeconds: opts.staleSeconds });
    if (!state) continue; // released just now: try again
    if (state.stale === null) throw new LockHeldError(dir, state.holder, opts.label);
    if (breakStale(dir, state.holder)) tookOver = { holder: state.holder, reason: state.stale };
  }
  const state = lockState(dir, { staleSeconds: opts.staleSeconds });
  if (state) throw new LockHeldError(dir, state.holder, opts.label);
  throw new UsageError(`cannot take the lock of ${opts.label ?? dir}: other processes keep taking it; try again`);
}

/** A note for the user when a lock replaced a dead holder's. */
export function tookOverNote(lock: DirLock, label: string): string | null {
  const t = lock.tookOver;
  return t
    ? `${label}: took over the lock of pid ${t.holder.pid} on host ${t.holder.host} (${t.holder.command}): ${t.reason}`
    : null;
}

/**
 * Waits (polling, at most `seconds`) until DIR's lock is free or stale; returns the last state
 * seen (null: free).
 */
export async function waitForLock(
  dir: string,
  seconds: number,
  opts: { staleSeconds?: number; pollMs?: number } = {},
): Promise<LockState | null> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const state = lockState(dir, opts);
    if (!state || state.stale !== null || Date.now() >= end) return state;
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 2000, Math.max(10, end - Date.now()))));
  }
}
