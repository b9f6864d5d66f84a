// Files replaced whole or not at all (manifest.json, config.json, summary.json, ...): the new
// content goes to a temporary file beside the target (same directory, so the rename cannot cross
// filesystems), is fsynced, and is renamed over the target; the directory is fsynced after, so the
// rename survives a power cut too. A write that fails (ENOSPC, EROFS, EDQUOT, ...) removes its
// temporary file and rethrows: it leaves the old file as it was and no `*.tmp-PID` behind.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The temporary file a write to `file` goes through (one per process: writes here are synchronous). */
export function atomicTempPath(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // a directory that cannot be opened for reading (not on Linux): the rename is done anyway
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the data itself was fsynced.
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `file` atomically (creating its directory), see above. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = atomicTempPath(file);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Cannot even remove it (the filesystem went read-only): the write's own error matters more.
    }
    throw e;
  }
  fsyncDirectory(dir);
}

/** `value` as indented JSON with a final newline, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
