import path from 'node:path';
import { PACKAGE_ROOT } from '../version.js';

/** The Python of python-bridge's venv (made by `npm install`); COORDRL_PYTHON overrides it. */
export function venvPython(): string {
  return process.env.COORDRL_PYTHON_BRIDGE ?? path.join(PACKAGE_ROOT, 'python-bridge', '.venv', 'bin', 'python');
}

export function bridgeDir(): string {
  return path.join(PACKAGE_ROOT, 'python-bridge');
}
