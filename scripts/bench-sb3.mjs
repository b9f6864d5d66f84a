#!/usr/bin/env node
// `npm run bench:sb3 [-- --seconds 60 --algos a2c,dqn --env pong --json]`
// Runs coordrl's training loop and Stable-Baselines3 (PyTorch CPU) with the same algorithm,
// network (Nature CNN), settings and environment (ale-py's AtariVectorEnv), one after the other
// on this machine, and prints env steps per second of each and their ratio. SB3 gets its own
// venv (.cache/sb3-venv, pinned in scripts/sb3/requirements.txt; torch 2.13.0 CPU).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV = path.join(ROOT, '.cache', 'sb3-venv');
const PY = path.join(VENV, 'bin', 'python');
const REQS = path.join(ROOT, 'scripts', 'sb3', 'requirements.txt');

const { values: o } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    algos: { type: 'string', default: 'a2c,dqn' },
    env: { type: 'string', default: 'pong' },
    torso: { type: 'string', default: 'conv' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (o.help) {
  console.log(`usage: npm run bench:sb3 -- [--seconds 60] [--warmup 10] [--algos a2c,dqn] [--env pong] [--torso conv] [--json]
Compares env steps/s of coordrl's A2C/DQN training loop with Stable-Baselines3's on this machine.`);
  process.exit(0);
}
const log = (m) => process.stderr.write(`[bench:sb3] ${m}\n`);

function ensureVenv() {
  const stamp = path.join(VENV, '.coordrl-stamp');
  const want = createHash('sha256').update(readFileSync(REQS)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log(`setting up ${path.relative(ROOT, VENV)} (torch 2.13.0 CPU, stable-baselines3); this takes a few minutes once`);
  if (!existsSync(PY)) {
    const r = spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('python3 -m venv failed');
  }
  const r = spawnSync(PY, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', REQS], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`pip install -r ${REQS} failed`);
  writeFileSync(stamp, want);
}

function runJson(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.split('\n').slice(-10).join('\n')}`);
  // Both print one JSON document on stdout (coordrl's pretty-printed, SB3's on one line).
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
}

ensureVenv();
const rows = [];
for (const algo of o.algos.split(',')) {
  log(`${algo}: coordrl (${o.seconds} s after ${o.warmup} s warm-up)`);
  const ours = runJson(process.execPath, [
    path.join(ROOT, 'bin', 'coordrl.js'),
    'bench',
    'train',
    '--algo',
    algo,
    '--env',
    o.env,
    '--torso',
    o.torso,
    '--seconds',
    o.seconds,
    '--warmup',
    o.warmup,
    '--json',
  ]);
  log(`${algo}: stable-baselines3`);
  const sb3 = runJson(PY, [
    path.join(ROOT, 'scripts', 'sb3', 'bench_sb3.py'),
    '--algo',
    algo,
    '--env',
    o.env,
    '--seconds',
    o.seconds,
    '--warmup',
    o.warmup,
  ]);
  rows.push({
    algo,
    env: o.env,
    torso: o.torso,
    coordrlStepsPerSec: ours.envStepsPerSec,
    sb3StepsPerSec: sb3.envStepsPerSec,
    ratio: ours.envStepsPerSec / sb3.envStepsPerSec,
    coordrl: ours,
    sb3,
  });
}
if (o.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log('algo  env   coordrl steps/s  SB3 steps/s  ratio');
  for (const r of rows) {
    console.log(
      `${r.algo.padEnd(5)} ${r.env.padEnd(5)} ${r.coordrlStepsPerSec.toFixed(0).padStart(15)} ${r.sb3StepsPerSec.toFixed(0).padStart(12)}  ${r.ratio.toFixed(2)}`,
    );
  }
}
