// Atomic, verified checkpoints in a run directory.
//
//   runs/NAME/checkpoints/step-000001234/   one checkpoint: whatever the writer put there, plus
//                                            manifest.json (written last: format version, time,
//                                            step, score, sha256 and size of every file)
//   runs/NAME/checkpoints/best -> step-...   symlink to the best-scored checkpoint (convenience)
//   runs/NAME/checkpoints/.tmp-*             a save in progress (or a crashed one; cleaned later)
//
// A save writes into a temporary directory inside checkpoints/, fsyncs every file and directory,
// writes and fsyncs manifest.json, then renames the directory into place and fsyncs checkpoints/.
// So a checkpoint directory either does not exist or is complete; a crash or a write error (disk
// full) at any point leaves the previous checkpoints untouched. Loading verifies the manifest and
// the checksums and falls back to the newest good checkpoint, saying which ones it skipped and why.
//
// One writer per run directory at a time is assumed.

import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, UserFacingError } from '../util/cli-errors.js';
import { pidAlive } from '../util/pid.js';

export const CHECKPOINT_FORMAT = 'coordrl-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const BEST_LINK = 'best';

export interface ManifestFileEntry {
  size: number;
  sha256: string;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  createdAt: string;
  step: number;
  /** Evaluation score used to pick the best checkpoint (null when not evaluated). */
  score: number | null;
  meta: Record<string, unknown>;
  /** Every file of the checkpoint except manifest.json, by POSIX relative path. */
  files: Record<string, ManifestFileEntry>;
}

export type CheckpointStatus = 'ok' | `corrupt: ${string}` | 'incompatible version';

export interface CheckpointInfo {
  /** Directory name, e.g. step-000001234. */
  name: string;
  dir: string;
  step: number;
  status: CheckpointStatus;
  /** Details for a status other than ok (for 'incompatible version': which versions). */
  reason?: string;
  manifest?: CheckpointManifest;
}

export interface SaveCheckpointOptions {
  /** Keep this many newest checkpoints (default 3); 0 keeps all. */
  keepLast?: number;
  /** Evaluation score of this checkpoint, recorded in the manifest. */
  score?: number | null;
  /** Also keep the best-scored checkpoint beyond keepLast (default true). */
  keepBest?: boolean;
  /** Larger scores are better (default true). */
  higherIsBetter?: boolean;
  /** Free-form metadata recorded in the manifest. */
  meta?: Record<string, unknown>;
  /** Replace an existing checkpoint of the same step (default true; else it is an error). */
  overwrite?: boolean;
}

export interface SaveCheckpointResult {
  name: string;
  dir: string;
  manifest: CheckpointManifest;
  /** Checkpoints removed by keep-last-K pruning. */
  pruned: string[];
  /** Name of the best-scored checkpoint after this save, if any has a score. */
  best: string | null;
  /** Problems after the checkpoint was safely in place (pruning, best link). */
  warnings: string[];
}

export type VerifyMode = 'full' | 'quick';

/** A checkpoint could not be saved or loaded; the message says what to do. */
export class CheckpointError extends UserFacingError {
  override name = 'CheckpointError';
}

const STEP_DIR = /^step-(\d+)$/;
const HASH_PIECE = 4 * 1024 * 1024;

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(9, '0')}`;
}

function errText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return `disk full (ENOSPC): ${e.message}`;
  if (code === 'EDQUOT') return `disk quota exceeded (EDQUOT): ${e.message}`;
  return e.message;
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** sha256 and size of a file, read once; fsyncs it too when asked. */
async function hashFile(file: string, sync: boolean): Promise<ManifestFileEntry> {
  const fh = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_PIECE);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, HASH_PIECE, size);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    if (sync) await fh.sync();
    return { size, sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/** Regular files (relative POSIX paths) and subdirectories under dir; anything else is an error. */
async function walk(dir: string, rel = ''): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [];
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) {
      dirs.push(r);
      const sub = await walk(dir, r);
      files.push(...sub.files);
      dirs.push(...sub.dirs);
    } else if (ent.isFile()) {
      files.push(r);
    } else {
      throw new Error(`checkpoint entry ${r} is not a regular file or directory`);
    }
  }
  return { files, dirs };
}

/** Removes temporary and trash directories left by crashed saves (of dead processes, or ours). */
async function cleanStale(ckDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(ckDir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\.(tmp|trash)-.*-p(\d+)-[0-9a-f]+$/.exec(n);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || !pidAlive(pid)) await rm(path.join(ckDir, n), { recursive: true, force: true });
  }
}

/**
 * Saves a checkpoint of `step` atomically. `writer(dir)` writes the checkpoint's files into `dir`
 * (a temporary directory; subdirectories allowed; no symlinks). Throws CheckpointError when the
 * save fails; the previous checkpoints are then untouched and nothing half-written is visible.
 */
export async function saveCheckpoint(
  runDir: string,
  step: number,
  writer: (dir: string) => Promise<void>,
  opts: SaveCheckpointOptions = {},
): Promise<SaveCheckpointResult> {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`checkpoint step must be an integer >= 0, got ${step}`);
  const keepLast = opts.keepLast ?? 3;
  const ckDir = checkpointsDir(runDir);
  const name = checkpointName(step);
  const finalDir = path.join(ckDir, name);
  const tag = `${name}-p${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(ckDir, `.tmp-${tag}`);
  let manifest: CheckpointManifest;
  try {
    await mkdir(ckDir, { recursive: true });
    await cleanStale(ckDir);
    await mkdir(tmp);
    await writer(tmp);
    const { files, dirs } = await walk(tmp);
    if (files.includes(MANIFEST_FILE)) throw new Error(`the writer must not write ${MANIFEST_FILE}`);
    const entries: Record<string, ManifestFileEntry> = {};
    for (const f of files) entries[f] = await hashFile(path.join(tmp, f), true);
    for (const d of dirs.reverse()) await fsyncPath(path.join(tmp, d));
    manifest = {
      format: CHECKPOINT_FORMAT,
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      step,
      score: opts.score ?? null,
      meta: opts.meta ?? {},
      files: entries,
    };
    const fh = await open(path.join(tmp, MANIFEST_FILE), 'wx');
    try {
      await fh.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsyncPath(tmp);
    let trash: string | null = null;
    if (await exists(finalDir)) {
      if (opts.overwrite === false) throw new Error(`${name} already exists`);
      trash = path.join(ckDir, `.trash-${tag}`);
      await rename(finalDir, trash);
    }
    await rename(tmp, finalDir);
    await fsyncPath(ckDir);
    if (trash) await rm(trash, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw new CheckpointError(
      `saving checkpoint ${name} in ${ckDir} failed: ${errText(e)}. The previous checkpoints are untouched.`,
      { cause: e },
    );
  }
  const warnings: string[] = [];
  let pruned: string[] = [];
  let best: string | null = null;
  try {
    const r = await pruneCheckpoints(runDir, {
      keepLast,
      keepBest: opts.keepBest,
      higherIsBetter: opts.higherIsBetter,
      keep: [name],
    });
    pruned = r.removed;
    best = r.best;
  } catch (e) {
    warnings.push(`pruning old checkpoints failed: ${errText(e)}`);
  }
  try {
    await updateBestLink(ckDir, best);
  } catch (e) {
    warnings.push(`updating the '${BEST_LINK}' link failed: ${errText(e)}`);
  }
  return { name, dir: finalDir, manifest, pruned, best, warnings };
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function updateBestLink(ckDir: string, best: string | null): Promise<void> {
  const link = path.join(ckDir, BEST_LINK);
  if (best === null) {
    if (await exists(link)) await rm(link, { force: true });
    return;
  }
  try {
    if ((await readlink(link)) === best) return;
  } catch {
    // missing or not a link
  }
  const tmpLink = path.join(ckDir, `.tmp-best-p${process.pid}-${randomBytes(4).toString('hex')}`);
  await symlink(best, tmpLink);
  await rename(tmpLink, link);
}

/** Checks one checkpoint directory: manifest, format version, sizes, and (full) checksums. */
export async function verifyCheckpoint(
  dir: string,
  mode: VerifyMode = 'full',
): Promise<{ status: CheckpointStatus; reason?: string; manifest?: CheckpointManifest }> {
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return {
      status: 'corrupt: missing manifest.json',
      reason: 'no manifest.json (an incomplete or foreign directory)',
    };
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(text) as CheckpointManifest;
  } catch {
    return { status: 'corrupt: manifest.json is not valid JSON' };
  }
  if (manifest?.format !== CHECKPOINT_FORMAT || typeof manifest.formatVersion !== 'number') {
    return { status: 'corrupt: manifest.json is not a coordrl checkpoint manifest' };
  }
  if (manifest.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    return {
      status: 'incompatible version',
      reason: `checkpoint format version ${manifest.formatVersion}; this coordrl reads version ${CHECKPOINT_FORMAT_VERSION}`,
      manifest,
    };
  }
  const m = STEP_DIR.exec(path.basename(dir));
  if (m && Number(m[1]) !== manifest.step) {
    return { status: `corrupt: manifest step ${manifest.step} does not match the directory name`, manifest };
  }
  if (typeof manifest.files !== 'object' || manifest.files === null) {
    return { status: 'corrupt: manifest.json lists no files', manifest };
  }
  for (const [rel, entry] of Object.entries(manifest.files)) {
    if (rel.split('/').includes('..') || path.isAbsolute(rel))
      return { status: `corrupt: bad path ${rel} in manifest`, manifest };
    const file = path.join(dir, ...rel.split('/'));
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) return { status: `corrupt: ${rel} is not a file`, manifest };
      size = st.size;
    } catch {
      return { status: `corrupt: ${rel} is missing`, manifest };
    }
    if (size < entry.size) return { status: `corrupt: ${rel} is truncated (${size} of ${entry.size} bytes)`, manifest };
    if (size !== entry.size) return { status: `corrupt: ${rel} has ${size} bytes, expected ${entry.size}`, manifest };
    if (mode === 'full') {
      let h: ManifestFileEntry;
      try {
        h = await hashFile(file, false);
      } catch {
        return { status: `corrupt: ${rel} is missing`, manifest };
      }
      if (h.sha256 !== entry.sha256) return { status: `corrupt: ${rel} checksum mismatch`, manifest };
    }
  }
  return { status: 'ok', manifest };
}

/** All checkpoints of a run, oldest first, each with its status. */
export async function listCheckpoints(runDir: string, opts: { verify?: VerifyMode } = {}): Promise<CheckpointInfo[]> {
  const ckDir = checkpointsDir(runDir);
  let names: string[];
  try {
    names = await readdir(ckDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const m = STEP_DIR.exec(name);
    if (!m) continue;
    const dir = path.join(ckDir, name);
    // Another process (the trainer pruning while `ab --status` or `report` reads) may remove a
    // checkpoint between readdir and here: one that is gone is skipped, not reported as corrupt.
    const st = await lstat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (!st?.isDirectory()) continue;
    const v = await verifyCheckpoint(dir, opts.verify ?? 'full');
    if (v.status !== 'ok' && !(await exists(dir))) continue;
    out.push({ name, dir, step: Number(m[1]), ...v });
  }
  out.sort((a, b) => a.step - b.step);
  return out;
}

export interface SkippedCheckpoint {
  name: string;
  status: CheckpointStatus | 'load failed';
  reason?: string;
}

export interface LoadLatestResult<T> {
  /** The newest checkpoint that verified (and loaded, with a loader), or null. */
  checkpoint: CheckpointInfo | null;
  /** What the loader returned for it. */
  value: T | undefined;
  /** Newer checkpoints that were skipped, newest first, with the reason. */
  skipped: SkippedCheckpoint[];
}

/**
 * Finds the newest good checkpoint: verifies manifests and checksums from the newest down and
 * stops at the first that passes (and whose `loader`, if given, does not throw).
 */
export async function loadLatestGood<T = undefined>(
  runDir: string,
  loader?: (dir: string, manifest: CheckpointManifest) => Promise<T>,
): Promise<LoadLatestResult<T>> {
  const all = await listCheckpoints(runDir, { verify: 'quick' });
  const skipped: SkippedCheckpoint[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const quick = all[i];
    const info: CheckpointInfo =
      quick.status === 'ok' ? { ...quick, ...(await verifyCheckpoint(quick.dir, 'full')) } : quick;
    if (info.status !== 'ok') {
      skipped.push({ name: info.name, status: info.status, reason: info.reason });
      continue;
    }
    if (!loader) return { checkpoint: info, value: undefined, skipped };
    try {
      const value = await loader(info.dir, info.manifest as CheckpointManifest);
      return { checkpoint: info, value, skipped };
    } catch (e) {
      // A usage error (the run's settings do not fit its checkpoints) is not the checkpoint's
      // fault: an older one would not fit either, so it stops the search.
      if (e instanceof UsageError) throw e;
      skipped.push({ name: info.name, status: 'load failed', reason: errText(e) });
    }
  }
  return { checkpoint: null, value: undefined, skipped };
}

/** One line per skipped checkpoint, for logs. */
export function describeSkipped(skipped: SkippedCheckpoint[]): string[] {
  return skipped.map((s) => `skipped checkpoint ${s.name}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
}

/** The good checkpoint with the best score (quick verification), or null. */
export async function findBestCheckpoint(runDir: string, higherIsBetter = true): Promise<CheckpointInfo | null> {
  const all = await listCheckpoints(runDir, { verify: 'quick' });
  return pickBest(all, higherIsBetter);
}

function pickBest(all: CheckpointInfo[], higherIsBetter: boolean): CheckpointInfo | null {
  let best: CheckpointInfo | null = null;
  for (const c of all) {
    const s = c.manifest?.score;
    if (c.status !== 'ok' || typeof s !== 'number' || !Number.isFinite(s)) continue;
    const bs = best?.manifest?.score as number;
    // ties: the newer one
    if (best === null || (higherIsBetter ? s >= bs : s <= bs)) best = c;
  }
  return best;
}

/**
 * Removes good checkpoints other than the newest `keepLast` (by step), the best-scored one
 * (keepBest) and those named in `keep`. keepLast 0 removes nothing. Corrupt or incompatible
 * checkpoints are never removed (someone may want to look at them) and do not count as kept.
 */
export async function pruneCheckpoints(
  runDir: string,
  opts: { keepLast?: number; keepBest?: boolean; higherIsBetter?: boolean; keep?: string[] } = {},
): Promise<{ removed: string[]; best: string | null }> {
  const keepLast = opts.keepLast ?? 3;
  const all = await listCheckpoints(runDir, { verify: 'quick' });
  const good = all.filter((c) => c.status === 'ok');
  const best = pickBest(all, opts.higherIsBetter ?? true);
  const keep = new Set(opts.keep ?? []);
  if (keepLast > 0) for (const c of good.slice(-keepLast)) keep.add(c.name);
  if (best && (opts.keepBest ?? true)) keep.add(best.name);
  const removed: string[] = [];
  if (keepLast > 0) {
    for (const c of good) {
      if (keep.has(c.name)) continue;
      // Renamed out of sight first (atomic), so a concurrent reader sees it whole or not at all.
      const trash = path.join(
        checkpointsDir(runDir),
        `.trash-${c.name}-p${process.pid}-${randomBytes(4).toString('hex')}`,
      );
      await rename(c.dir, trash);
      await rm(trash, { recursive: true, force: true });
      removed.push(c.name);
    }
  }
  return { removed, best: best && (opts.keepBest ?? true) ? best.name : null };
}
