// Checks made before a run writes or allocates anything, so that a bad --run-dir, a read-only
// disk or a missing key directory is one clear line instead of a stack trace half-way in.
import { existsSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../util/cli-errors.js';

/** A file-system error in words a user recognises, with its code (EROFS, EACCES, ...). */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: 'disk full',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a part of the path is a file',
    EEXIST: 'already exists',
  };
  const code = err?.code;
  if (code && words[code]) return `${words[code]} (${code})`;
  return code ? `${code}: ${err.message}` : String(err?.message ?? e);
}

/**
 * `dir` (which may not exist yet) can be a run directory: neither it nor a parent is a file, and
 * the nearest existing directory takes a write (tried for real: EROFS and full disks only show then).
 */
export function checkRunDirUsable(dir: string, what = '--run-dir'): void {
  let existing = dir;
  for (;;) {
    let isDir: boolean | null = null;
    try {
      isDir = statSync(existing).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UsageError(`${what} ${dir}: ${describeFsError(e)}`);
    }
    if (isDir === false) {
      throw new UsageError(
        existing === dir
          ? `${what} ${dir} is a file, not a directory; pick another path`
          : `${what} ${dir} is under ${existing}, which is a file; pick another path`,
      );
    }
    if (isDir) break;
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  try {
    rmdirSync(mkdtempSync(path.join(existing, '.coordrl-write-check-')));
  } catch (e) {
    throw new UsageError(`${what} ${dir}: cannot write in ${existing}: ${describeFsError(e)}`);
  }
}

/** --env-keys must name a directory made by `coordrl serve --gen-keys` (checked before connecting). */
export function checkKeysDir(dir: string): void {
  if (!existsSync(dir)) {
    throw new UsageError(`--env-keys ${dir} does not exist; make one with \`coordrl serve --gen-keys ${dir}\``);
  }
  if (!statSync(dir).isDirectory()) throw new UsageError(`--env-keys ${dir} is a file; give the key directory`);
  for (const rel of ['server/server.key', 'clients/client.key_secret']) {
    if (!existsSync(path.join(dir, rel))) {
      throw new UsageError(`--env-keys ${dir} lacks ${rel} (is it a directory made by \`coordrl serve --gen-keys\`?)`);
    }
  }
}
