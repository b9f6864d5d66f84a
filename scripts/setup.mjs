#!/usr/bin/env node
// One-command set-up, run by `npm install` (postinstall) and by `npm run setup[:gpu]`.
//
// 1. The Python virtual environment of python-bridge/ with pinned requirements.
// 2. The native TensorFlow addon of @tensorflow/tfjs-node: the package's own download where it
//    works; otherwise built from the package's own sources against the TensorFlow C library
//    that ships inside the TensorFlow wheel on PyPI (docs/install.md).
// 3. The project's own small addon native/tfgraph (compiled training steps, docs/speed.md),
//    built with node-gyp against the same TensorFlow library and headers. Optional: without it
//    the agents run the same updates as eager tfjs ops.
//
// Plain JavaScript on purpose: it runs before the TypeScript is compiled. It is idempotent
// (stamp files say what was done with which inputs) and never fails the install for the addon:
// if every route fails it says loudly that training will use the slow pure-JS backend.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BRIDGE = path.join(ROOT, 'python-bridge');
const VENV = path.join(BRIDGE, '.venv');
const VENV_PY = path.join(VENV, 'bin', 'python');
const TF_VERSION = process.env.COORDRL_TF_WHEEL_VERSION ?? '2.21.0';
const CACHE = path.join(
  process.env.COORDRL_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'coordconv-rl'),
);

const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log(`Usage: node scripts/setup.mjs [--gpu] [--minatar] [--force] [--skip-python] [--skip-tf] [--no-stock]

Sets up python-bridge/.venv and the native TensorFlow addon (run by npm install).
  --gpu          build @tensorflow/tfjs-node-gpu against the CUDA 12 'tensorflow' wheel
  --minatar      also install the optional MinAtar envs (minatar, GPL-3.0; on by itself when CI=true)
  --force        redo every step even when its stamp says it is done
  --skip-python  leave the Python venv alone
  --skip-tf      leave the TensorFlow addon alone
  --no-stock     do not try the package's own download (go straight to the wheel)
Environment: COORDRL_PYTHON (python to make the venv with), COORDRL_CACHE_DIR (download cache,
default ~/.cache/coordconv-rl), COORDRL_SKIP_SETUP=1 (skip everything).`);
  process.exit(0);
}
const FORCE = args.has('--force');
const GPU = args.has('--gpu');
// MinAtar (GPL-3.0) is optional: on request, and under CI where its tests run.
const MINATAR = args.has('--minatar') || process.env.COORDRL_MINATAR === '1' || process.env.CI === 'true';

function say(msg) {
  console.log(`[coordrl setup] ${msg}`);
}
function loud(lines) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n`);
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: opts.quiet ? 'pipe' : 'inherit', encoding: 'utf8', ...opts });
  if (r.error) return { ok: false, out: String(r.error.message) };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '', status: r.status };
}
function sha256(...files) {
  const h = createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return h.digest('hex');
}
function readStamp(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
function writeStamp(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// 1. Python venv
function findPython() {
  const candidates = [process.env.COORDRL_PYTHON, 'python3.11', 'python3', 'python'].filter(Boolean);
  for (const c of candidates) {
    const r = run(c, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { quiet: true });
    if (!r.ok) continue;
    const [maj, min] = r.out.trim().split('.').map(Number);
    if (maj === 3 && min >= 10) return c;
  }
  return null;
}

function setupPython() {
  const reqFiles = [path.join(BRIDGE, 'requirements.txt'), path.join(BRIDGE, 'requirements-dev.txt')];
  if (MINATAR) reqFiles.push(path.join(BRIDGE, 'requirements-minatar.txt'));
  const stampFile = path.join(VENV, '.coordrl-stamp.json');
  const want = sha256(...reqFiles);
  const stamp = readStamp(stampFile);
  if (!FORCE && stamp?.requirements === want && fs.existsSync(VENV_PY)) {
    say(`python venv: up to date (${path.relative(ROOT, VENV)})`);
    return true;
  }
  const py = findPython();
  if (!py) {
    loud([
      'No Python 3.10+ found: the environment server (python-bridge/) cannot be set up.',
      'Install Python 3.10 or newer (or set COORDRL_PYTHON=/path/to/python3) and run: npm run setup',
    ]);
    return false;
  }
  if (!fs.existsSync(VENV_PY)) {
    say(`python venv: creating ${path.relative(ROOT, VENV)} with ${py}`);
    const r = run(py, ['-m', 'venv', VENV]);
    if (!r.ok) {
      loud([`Could not create the venv with '${py} -m venv' (on Debian: apt-get install python3-venv).`]);
      return false;
    }
  }
  say('python venv: installing pinned requirements (python-bridge/requirements*.txt)');
  const installs = reqFiles.slice(1).flatMap((f) => ['-r', f]);
  const r = run(VENV_PY, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...installs]);
  if (!r.ok) {
    loud([
      `pip could not install ${reqFiles
        .slice(1)
        .map((f) => path.relative(ROOT, f))
        .join(' and ')}; see the output above.`,
    ]);
    return false;
  }
  writeStamp(stampFile, { requirements: want, python: py, at: new Date().toISOString() });
  say(`python venv: ready${MINATAR ? ' (with MinAtar, GPL-3.0)' : ''}`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// 2. Native TensorFlow addon
function packageDir(name) {
  const dir = path.join(ROOT, 'node_modules', ...name.split('/'));
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : null;
}

/** Loads the package in a child process and returns the backend it registers, or null. */
function probeAddon(pkgName) {
  const code = `import('${pkgName}').then(async (m) => { const tf = m.default ?? m; await tf.ready(); console.log(JSON.stringify({backend: tf.getBackend(), tf: tf.version?.['tfjs-core']})); }).catch((e) => { console.error(String(e && e.message || e)); process.exit(1); })`;
  const r = run(process.execPath, ['--input-type=module', '-e', code], {
    quiet: true,
    cwd: ROOT,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    timeout: 120_000,
  });
  if (!r.ok) return { ok: false, error: r.out.trim().split('\n').slice(-3).join(' | ') };
  try {
    const last = r.stdout.trim().split('\n').pop();
    const info = JSON.parse(last);
    return { ok: info.backend === 'tensorflow', info };
  } catch {
    return { ok: false, error: r.out };
  }
}

function tryStockInstall(pkgDir) {
  if (args.has('--no-stock') || process.env.COORDRL_NO_STOCK_TF === '1') return 'skipped';
  say("tensorflow addon: trying the package's own download (scripts/install.js)");
  const argv = [path.join(pkgDir, 'scripts', 'install.js')];
  if (GPU) argv.push('gpu', 'download');
  const r = run(process.execPath, argv, { cwd: pkgDir, quiet: true, timeout: 300_000 });
  if (!r.ok) {
    // The script ends with Node's version banner; the cause is the last line naming an error.
    const lines = r.out.trim().split('\n').filter(Boolean);
    const why =
      lines.filter((l) => /^\s*\w*Error: /.test(l)).pop() ??
      lines.filter((l) => /ENOTFOUND|ECONN|EAI_AGAIN|ETIMEDOUT/.test(l)).pop() ??
      lines.pop() ??
      'unknown error';
    say(`tensorflow addon: stock download failed (${why.slice(0, 160)})`);
    return false;
  }
  return true;
}

function pipDownload(spec, dest) {
  fs.mkdirSync(dest, { recursive: true });
  const py = fs.existsSync(VENV_PY) ? VENV_PY : findPython();
  if (!py) return { ok: false, out: 'no python to run pip with' };
  return run(
    py,
    ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', '-d', dest, spec],
    { quiet: true },
  );
}

function findWheel(dir, prefix) {
  if (!fs.existsSync(dir)) return null;
  const hit = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.whl'))
    .sort()
    .pop();
  return hit ? path.join(dir, hit) : null;
}

/**
 * Unpacks the two TensorFlow libraries and the C API headers (with everything they include)
 * from the wheel into `<cache>/<key>/{lib,include}`; cached, so a second install only copies.
 */
function extractWheel(wheel, outDir, pkgDir) {
  const marker = path.join(outDir, '.complete');
  const script = path.join(ROOT, 'scripts', 'extract_tf_wheel.py');
  // The marker names the wheel and the extractor's hash: a changed extractor re-extracts.
  const key = `${path.basename(wheel)} ${sha256(script)}\n`;
  if (!FORCE && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === key) return true;
  fs.rmSync(outDir, { recursive: true, force: true });
  const py = fs.existsSync(VENV_PY) ? VENV_PY : findPython();
  const r = run(py, [script, wheel, outDir, path.join(pkgDir, 'binding')]);
  if (!r.ok) return false;
  fs.writeFileSync(marker, key);
  return true;
}

function copyInto(srcDir, pkgDir) {
  const deps = path.join(pkgDir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
  fs.cpSync(path.join(srcDir, 'include'), path.join(deps, 'include'), { recursive: true });
  for (const f of fs.readdirSync(path.join(srcDir, 'lib'))) {
    const src = path.join(srcDir, 'lib', f);
    const dst = path.join(deps, 'lib', f);
    try {
      fs.linkSync(src, dst); // same filesystem: no copy of ~800 MB
    } catch {
      fs.copyFileSync(src, dst);
    }
  }
  // The binding links -ltensorflow -ltensorflow_framework; the wheel names them _cc.so.2 / .so.2.
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(deps, 'lib', 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(deps, 'lib', 'libtensorflow.so.2'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(deps, 'lib', 'libtensorflow_framework.so'));
  const nvidia = path.join(srcDir, 'nvidia');
  if (fs.existsSync(nvidia)) fs.cpSync(nvidia, path.join(pkgDir, 'nvidia'), { recursive: true });
}

const GYP = path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');

/** node-gyp's environment: Node's headers from the local install when npm knows where they are. */
function gypEnv() {
  const env = { ...process.env };
  if (!env.npm_config_nodedir) {
    const r = run('npm', ['config', 'get', 'nodedir'], { quiet: true });
    const dir = r.ok ? r.out.trim() : '';
    if (dir && dir !== 'undefined' && fs.existsSync(path.join(dir, 'include', 'node'))) env.npm_config_nodedir = dir;
  }
  return env;
}

function nodeGyp(pkgDir) {
  const gyp = GYP;
  const env = gypEnv();
  const argv = [
    gyp,
    'rebuild',
    '--module_name=tfjs_binding',
    `--module_path=${path.join(pkgDir, 'lib', 'napi-v8')}`,
    '--napi_build_version=8',
    `--jobs=${Math.max(1, os.cpus().length)}`,
  ];
  if (env.npm_config_nodedir) argv.push(`--nodedir=${env.npm_config_nodedir}`);
  say(
    `tensorflow addon: compiling tfjs_binding with node-gyp (about 20 s)${env.npm_config_nodedir ? ` against ${env.npm_config_nodedir}` : ''}`,
  );
  const r = run(process.execPath, argv, { cwd: pkgDir, env, quiet: true });
  if (!r.ok) say(`node-gyp failed:\n${r.out.split('\n').slice(-25).join('\n')}`);
  return r.ok;
}

function buildFromWheel(pkgDir, flavour) {
  const wheelName = flavour === 'gpu' ? 'tensorflow' : 'tensorflow-cpu';
  const prefix = flavour === 'gpu' ? `tensorflow-${TF_VERSION}-` : `tensorflow_cpu-${TF_VERSION}-`;
  const wheelDir = path.join(CACHE, 'wheels');
  let wheel = findWheel(wheelDir, prefix);
  if (wheel) say(`tensorflow addon: using cached wheel ${path.basename(wheel)}`);
  else {
    say(`tensorflow addon: downloading ${wheelName}==${TF_VERSION} from PyPI (about 270 MB, cached in ${wheelDir})`);
    const r = pipDownload(`${wheelName}==${TF_VERSION}`, wheelDir);
    wheel = findWheel(wheelDir, prefix);
    if (!r.ok || !wheel) {
      say(`pip download failed: ${r.out.trim().split('\n').slice(-2).join(' | ')}`);
      return false;
    }
  }
  if (flavour === 'gpu') {
    // The GPU wheel loads CUDA 12 from the nvidia-*-cu12 wheels through RUNPATH entries
    // relative to itself ($ORIGIN/../nvidia/...): fetch them too and lay them out beside deps/.
    say('tensorflow addon: downloading the CUDA 12 runtime wheels (tensorflow[and-cuda]); several GB');
    const cudaDir = path.join(CACHE, 'wheels-cuda');
    const py = fs.existsSync(VENV_PY) ? VENV_PY : findPython();
    const r = run(
      py,
      ['-m', 'pip', 'download', '--only-binary=:all:', '-d', cudaDir, `tensorflow[and-cuda]==${TF_VERSION}`],
      {
        quiet: true,
      },
    );
    if (!r.ok) {
      say(`pip download of the CUDA wheels failed: ${r.out.trim().split('\n').slice(-2).join(' | ')}`);
      return false;
    }
  }
  const out = path.join(CACHE, `tf-${flavour}-${TF_VERSION}`);
  say(`tensorflow addon: unpacking libtensorflow and the C headers into ${out}`);
  const extraArgs = flavour === 'gpu' ? path.join(CACHE, 'wheels-cuda') : null;
  if (extraArgs) process.env.COORDRL_CUDA_WHEELS = extraArgs;
  if (!extractWheel(wheel, out, pkgDir)) return false;
  copyInto(out, pkgDir);
  return nodeGyp(pkgDir);
}

function setupTensorflow() {
  const pkgName = GPU ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const flavour = GPU ? 'gpu' : 'cpu';
  const pkgDir = packageDir(pkgName);
  if (!pkgDir) {
    loud([`${pkgName} is not installed in node_modules; run npm install first.`]);
    return false;
  }
  const stampFile = path.join(pkgDir, '.coordrl-addon.json');
  const stamp = readStamp(stampFile);
  if (!FORCE && stamp?.ok) {
    const p = probeAddon(pkgName);
    if (p.ok) {
      say(`tensorflow addon: ready (${stamp.route}; backend '${p.info.backend}')`);
      return true;
    }
    say(`tensorflow addon: stamp says built but it does not load (${p.error}); rebuilding`);
  }
  const routes = [
    ['stock download', () => tryStockInstall(pkgDir)],
    [
      `built from the ${GPU ? 'tensorflow' : 'tensorflow-cpu'} ${TF_VERSION} wheel`,
      () => buildFromWheel(pkgDir, flavour),
    ],
  ];
  const failures = [];
  for (const [route, attempt] of routes) {
    const t0 = Date.now();
    const result = attempt();
    if (result !== true) {
      failures.push(result === 'skipped' ? `${route} (skipped)` : route);
      continue;
    }
    const p = probeAddon(pkgName);
    if (p.ok) {
      writeStamp(stampFile, { ok: true, route, tfjs: p.info.tf, at: new Date().toISOString() });
      say(
        `tensorflow addon: ready via ${route} in ${((Date.now() - t0) / 1000).toFixed(0)} s (backend '${p.info.backend}')`,
      );
      return true;
    }
    failures.push(`${route} (built but does not load: ${p.error})`);
  }
  writeStamp(stampFile, { ok: false, failures, at: new Date().toISOString() });
  loud([
    `Native TensorFlow for ${pkgName} could not be set up. Tried: ${failures.join('; ')}.`,
    'coordrl will still run, but on the pure-JS "cpu" backend, which is about 900x slower to train.',
    'Fix: make sure pip can reach PyPI and a C++ compiler (g++) and Python 3 are installed, then run',
    `     npm run setup${GPU ? ':gpu' : ''} -- --force      and check with: npx coordrl doctor`,
  ]);
  return false;
}

// ---------------------------------------------------------------------------------------------
// 3. native/tfgraph
function setupCompiledAddon() {
  const pkgName = GPU ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const pkgDir = packageDir(pkgName);
  const dir = path.join(ROOT, 'native', 'tfgraph');
  const built = path.join(dir, 'build', 'Release', 'coordrl_tfgraph.node');
  const deps = pkgDir ? path.join(pkgDir, 'deps') : '';
  if (!pkgDir || !fs.existsSync(path.join(deps, 'include', 'tensorflow', 'c', 'c_api.h'))) {
    say(`compiled steps: no TensorFlow C headers in ${pkgName}/deps; agents use eager tfjs ops`);
    return false;
  }
  const stampFile = path.join(dir, 'build', '.coordrl-stamp.json');
  const want = sha256(path.join(dir, 'tfgraph.c'), path.join(dir, 'binding.gyp')) + deps;
  const probe = () => {
    const code = `require(${JSON.stringify(pkgName)}); console.log(require(${JSON.stringify(built)}).version())`;
    return run(process.execPath, ['-e', code], {
      quiet: true,
      cwd: ROOT,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
  };
  if (!FORCE && readStamp(stampFile)?.want === want && fs.existsSync(built) && probe().ok) {
    say('compiled steps: native/tfgraph ready');
    return true;
  }
  const env = gypEnv();
  const argv = [GYP, 'rebuild', `--tf_deps=${deps}`, `--jobs=${Math.max(1, os.cpus().length)}`];
  if (env.npm_config_nodedir) argv.push(`--nodedir=${env.npm_config_nodedir}`);
  say('compiled steps: building native/tfgraph with node-gyp (a few seconds)');
  const r = run(process.execPath, argv, { cwd: dir, env, quiet: true });
  const p = r.ok ? probe() : null;
  if (!r.ok || !p?.ok) {
    say(
      `compiled steps: native/tfgraph ${r.ok ? 'built but does not load' : 'did not build'} (${(p ?? r).out.trim().split('\n').slice(-3).join(' | ')}); agents use eager tfjs ops (slower for small networks)`,
    );
    return false;
  }
  writeStamp(stampFile, { want, tensorflow: p.stdout.trim(), at: new Date().toISOString() });
  say(`compiled steps: native/tfgraph ready (TensorFlow ${p.stdout.trim()})`);
  return true;
}

// ---------------------------------------------------------------------------------------------
if (process.env.COORDRL_SKIP_SETUP === '1') {
  say('COORDRL_SKIP_SETUP=1: skipping');
  process.exit(0);
}
const t0 = Date.now();
let pythonOk = true;
if (!args.has('--skip-python')) pythonOk = setupPython();
if (GPU && !packageDir('@tensorflow/tfjs-node-gpu')) {
  say('installing @tensorflow/tfjs-node-gpu@4.22.0 (its download script is skipped by allowScripts)');
  run('npm', ['install', '--no-save', '--ignore-scripts', '@tensorflow/tfjs-node-gpu@4.22.0'], { cwd: ROOT });
}
if (!args.has('--skip-tf') && setupTensorflow()) setupCompiledAddon();
say(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s. Check everything with: npx coordrl doctor`);
// A failed Python set-up leaves the project unusable for training, so npm install should say so
// with a non-zero exit; a failed addon does not (the pure-JS backend still works, slowly).
process.exit(pythonOk ? 0 : 1);
