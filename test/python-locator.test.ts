import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bridgeDir, defaultPython } from '../envs/paths.js';
import { probePython } from '../envs/python-probe.js';

// One locator of the env server's Python for the server, `coordrl doctor` and the benchmarks.
describe('the env server Python', () => {
  const saved = { py: process.env.COORDRL_PYTHON, bridge: process.env.COORDRL_PYTHON_BRIDGE };
  afterEach(() => {
    for (const [k, v] of [
      ['COORDRL_PYTHON', saved.py],
      ['COORDRL_PYTHON_BRIDGE', saved.bridge],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('is COORDRL_PYTHON, else COORDRL_PYTHON_BRIDGE, else the venv', () => {
    delete process.env.COORDRL_PYTHON;
    delete process.env.COORDRL_PYTHON_BRIDGE;
    expect(defaultPython()).toBe(path.join(bridgeDir(), '.venv', 'bin', 'python'));
    process.env.COORDRL_PYTHON_BRIDGE = '/opt/bridge/python';
    expect(defaultPython()).toBe('/opt/bridge/python');
    process.env.COORDRL_PYTHON = '/opt/server/python';
    expect(defaultPython()).toBe('/opt/server/python');
  });

  it("is what doctor's probe checks", () => {
    process.env.COORDRL_PYTHON = '/nonexistent/coordrl-python';
    const r = probePython();
    expect(r.executable).toBe('/nonexistent/coordrl-python');
    expect(r.ok).toBe(false);
  });
});
