// Where the package, its Python bridge and the bridge's virtual environment are, from source
// (envs/*.ts under vitest) as well as compiled (dist/envs/*.js).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'coordconv-rl';

function isPackageRoot(dir: string): boolean {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

let cachedRoot: string | undefined;

/** The directory holding coordconv-rl's package.json, found by walking up from this file. */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isPackageRoot(dir)) {
      cachedRoot = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function bridgeDir(): string {
  return path.join(packageRoot(), 'python-bridge');
}

/**
 * The env server's Python, the one place that locates it (the server, `coordrl doctor`, the
 * benchmarks): COORDRL_PYTHON if set, else COORDRL_PYTHON_BRIDGE (the name `doctor` once read on
 * its own), else python-bridge/.venv's interpreter.
 */
export function defaultPython(): string {
  const fromEnv = process.env.COORDRL_PYTHON || process.env.COORDRL_PYTHON_BRIDGE;
  if (fromEnv) return fromEnv;
  const venv = path.join(bridgeDir(), '.venv');
  return process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python');
}
