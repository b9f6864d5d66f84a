import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Read at run time so the version has one source: package.json (two levels up from dist/src).
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'coordconv-rl' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

export const PACKAGE_VERSION = readVersion();

/** Absolute path of the package root (where package.json and python-bridge/ live). */
export const PACKAGE_ROOT = (() => {
  for (const rel of ['..', '../..']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    try {
      const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { name?: string };
      if (pkg.name === 'coordconv-rl') return dir.replace(/\/$/, '');
    } catch {
      // try the next location
    }
  }
  return process.cwd();
})();
