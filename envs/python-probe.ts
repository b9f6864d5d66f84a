// What the env server's Python has: its version, the packages the server needs and the Atari ROMs
// ale-py carries (`coordrl doctor`, and the versions an A/B report records).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { defaultPython } from './paths.js';

export interface PythonReport {
  executable: string;
  ok: boolean;
  error?: string;
  version?: string;
  gymnasium?: string;
  alepy?: string;
  pyzmq?: string;
  msgpack?: string;
  numpy?: string;
  /** The optional MinAtar package (GPL-3.0), when installed. */
  minatar?: string;
}

// Runs in the venv's Python: versions of what the env server needs, and the ROMs ale-py carries.
const PY_PROBE = `
import json, sys
from importlib import metadata
out = {"version": sys.version.split()[0]}
for key, dist in [("gymnasium", "gymnasium"), ("alepy", "ale-py"), ("pyzmq", "pyzmq"), ("msgpack", "msgpack"), ("numpy", "numpy"), ("minatar", "minatar")]:
    try:
        out[key] = metadata.version(dist)
    except metadata.PackageNotFoundError:
        out[key] = None
try:
    import ale_py.roms as roms
    out["roms"] = len(roms.get_all_rom_ids())
except Exception as e:  # report, do not crash the doctor
    out["roms"] = None
    out["romsError"] = str(e)
print(json.dumps(out))
`;

export function probePython(executable = defaultPython()): PythonReport & { roms: number | null } {
  if (!existsSync(executable)) {
    return {
      executable,
      ok: false,
      error: 'python-bridge venv missing: run `npm run setup`',
      roms: null,
    };
  }
  const r = spawnSync(executable, ['-c', PY_PROBE], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    return { executable, ok: false, error: (r.stderr || String(r.error)).trim().split('\n').pop(), roms: null };
  }
  const info = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string | number | null>;
  const missing = ['gymnasium', 'alepy', 'pyzmq', 'msgpack', 'numpy'].filter((k) => !info[k]);
  return {
    executable,
    ok: missing.length === 0,
    error: missing.length
      ? `missing Python packages: ${missing.join(', ')} (run \`npm run setup -- --force\`)`
      : undefined,
    version: String(info.version),
    gymnasium: (info.gymnasium as string) ?? undefined,
    alepy: (info.alepy as string) ?? undefined,
    pyzmq: (info.pyzmq as string) ?? undefined,
    msgpack: (info.msgpack as string) ?? undefined,
    numpy: (info.numpy as string) ?? undefined,
    minatar: (info.minatar as string) ?? undefined,
    roms: typeof info.roms === 'number' ? info.roms : null,
  };
}
