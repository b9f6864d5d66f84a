#!/usr/bin/env node
// `npm run bench:sb3 [-- --seconds 60 --algos a2c,dqn --envs CartPole-v1,pong --repeats 2 --json]`
// Runs coordrl's training loop and Stable-Baselines3 (PyTorch CPU) with the same algorithm,
// network and settings, one after the other on this machine, and prints env steps per second of
// each and their ratio. Atari games: the Nature CNN on ale-py's AtariVectorEnv for both;
// Gymnasium ids (CartPole-v1): the 64-64 tanh MLP, on our env server vs SB3's DummyVecEnv.
// MinAtar (minatar/breakout, any MinAtar game by name): the MinAtar network (conv 16@3x3/1, dense 128)
// with coordrl's MinAtar presets, on our env server vs the bridge's MinAtarGroup inside SB3's process;
// the optional minatar package (GPL-3.0) goes into SB3's venv only then (scripts/sb3/requirements-minatar.txt).
// With --repeats N each pair runs N times, alternating, and the table shows every ratio. SB3 gets
// its own venv (.cache/sb3-venv, pinned in scripts/sb3/requirements.txt; torch 2.13.0 CPU).
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
const REQS_MINATAR = path.join(ROOT, 'scripts', 'sb3', 'requirements-minatar.txt');

const { values: o } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    algos: { type: 'string', default: 'a2c,dqn' },
    envs: { type: 'string', default: 'CartPole-v1,pong' },
    env: { type: 'string' },
    torso: { type: 'string' },
    repeats: { type: 'string', default: '1' },
    threads: { type: 'string' },
    'a2c-no-pipeline': { type: 'boolean', default: false },
    precision: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (o.help) {
  console.log(`usage: npm run bench:sb3 -- [--seconds 60] [--warmup 10] [--algos a2c,dqn] [--envs CartPole-v1,pong]
                          [--torso conv|coordconv|mlp] [--repeats 1] [--threads N] [--a2c-no-pipeline]
                          [--precision fp32|bf16] [--json]
Compares env steps/s of coordrl's A2C/DQN training loop with Stable-Baselines3's on this machine
(Atari: Nature CNN, torso conv unless --torso; Gymnasium ids such as CartPole-v1: MLP 64-64;
MinAtar names such as minatar/breakout: the MinAtar network and coordrl's MinAtar presets, which
installs the optional minatar==1.0.15, GPL-3.0, into SB3's venv the first time).
--threads N gives both the same compute threads (TensorFlow's intra/inter-op pools, torch's
intra-op threads and OpenMP); default: each library's own (one per core). On a loaded machine
torch's default threads spin against each other: compare with --threads 1 there.
--a2c-no-pipeline: A2C rows run coordrl twice in each repeat, with --pipeline (the main columns)
and with --no-pipeline (all envs stepped together; extra columns), for the pipelined rollout's
gain side by side. Without it coordrl runs with its default (not pipelined).
--precision bf16 runs coordrl's compiled graphs in bfloat16 mixed precision (SB3 stays fp32).`);
  process.exit(0);
}
const log = (m) => process.stderr.write(`[bench:sb3] ${m}\n`);
// A failed run (a misspelt game, a package not installed) ends with its message, not a stack trace.
process.on('uncaughtException', (e) => {
  console.error(`bench:sb3: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

/** pip-installs `reqs` into SB3's venv unless its stamp says this exact file is installed already. */
function ensureInstalled(reqs, stampName, what) {
  const stamp = path.join(VENV, stampName);
  const want = createHash('sha256').update(readFileSync(reqs)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log(`installing ${what} into ${path.relative(ROOT, VENV)}`);
  const r = spawnSync(PY, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', reqs], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`pip install -r ${reqs} failed`);
  writeFileSync(stamp, want);
}

function ensureVenv(withMinAtar) {
  if (!existsSync(PY)) {
    const r = spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('python3 -m venv failed');
  }
  ensureInstalled(REQS, '.coordrl-stamp', 'torch 2.13.0 CPU and stable-baselines3 (a few minutes once)');
  if (withMinAtar)
    ensureInstalled(REQS_MINATAR, '.coordrl-minatar-stamp', 'the optional MinAtar envs (minatar==1.0.15, GPL-3.0)');
}

function threadEnv() {
  if (o.threads === undefined) return {};
  const n = o.threads;
  return { TF_NUM_INTRAOP_THREADS: n, TF_NUM_INTEROP_THREADS: n, OMP_NUM_THREADS: n };
}

function runJson(cmd, args) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...threadEnv() },
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.split('\n').slice(-10).join('\n')}`);
  // Both print one JSON document on stdout (coordrl's pretty-printed, SB3's on one line).
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
}

// As src/config.ts: MinAtar names first (MinAtar/Breakout-v1 is no Gymnasium id here).
const isMinAtar = (env) => /^minatar\//i.test(env.trim()) || /-minatar$/i.test(env.trim());
const isGymId = (env) => !isMinAtar(env) && /-v\d+$/.test(env) && !env.startsWith('ALE/');
const repeats = Number(o.repeats);
if (o.threads !== undefined && !/^[1-9][0-9]?$/.test(o.threads)) {
  console.error(`bench:sb3: --threads must be an integer from 1 to 99, got '${o.threads}'`);
  process.exit(2);
}
if (o.precision !== undefined && o.precision !== 'fp32' && o.precision !== 'bf16') {
  console.error(`bench:sb3: --precision must be fp32 or bf16, got '${o.precision}'`);
  process.exit(2);
}
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20) {
  console.error(`bench:sb3: --repeats must be an integer from 1 to 20, got '${o.repeats}'`);
  process.exit(2);
}

function benchOurs(algo, env, torso, extra = []) {
  log(`${algo} ${env}: coordrl ${extra.map((x) => `${x} `).join('')}(${o.seconds} s after ${o.warmup} s warm-up)`);
  return runJson(process.execPath, [
    path.join(ROOT, 'bin', 'coordrl.js'),
    'bench',
    'train',
    '--algo',
    algo,
    '--env',
    env,
    '--torso',
    torso,
    '--seconds',
    o.seconds,
    '--warmup',
    o.warmup,
    ...extra,
    ...(o.precision !== undefined ? ['--precision', o.precision] : []),
    '--json',
  ]);
}

function benchPair(algo, env, torso, repeat) {
  // The unpipelined A2C run (--a2c-no-pipeline) goes before or after the pipelined one, alternating by repeat.
  const unpiped = algo === 'a2c' && o['a2c-no-pipeline'];
  const first = unpiped && repeat % 2 === 1 ? benchOurs(algo, env, torso, ['--no-pipeline']) : null;
  const ours = benchOurs(algo, env, torso, unpiped ? ['--pipeline'] : []);
  const noPipeline = unpiped ? (first ?? benchOurs(algo, env, torso, ['--no-pipeline'])) : null;
  log(`${algo} ${env}: stable-baselines3`);
  const sb3 = runJson(PY, [
    path.join(ROOT, 'scripts', 'sb3', 'bench_sb3.py'),
    '--algo',
    algo,
    '--env',
    env,
    '--seconds',
    o.seconds,
    '--warmup',
    o.warmup,
    ...(o.threads !== undefined ? ['--threads', o.threads] : []),
  ]);
  return {
    coordrl: ours,
    sb3,
    ratio: ours.envStepsPerSec / sb3.envStepsPerSec,
    ...(noPipeline
      ? { coordrlNoPipeline: noPipeline, ratioNoPipeline: noPipeline.envStepsPerSec / sb3.envStepsPerSec }
      : {}),
  };
}

const envs = (o.env ?? o.envs).split(',');
ensureVenv(envs.some(isMinAtar));
const rows = [];
for (const env of envs) {
  const torso = o.torso ?? (isGymId(env) ? 'mlp' : 'conv');
  for (const algo of o.algos.split(',')) {
    const runs = [];
    for (let i = 0; i < repeats; i++) runs.push(benchPair(algo, env, torso, i));
    const ratios = runs.map((r) => r.ratio);
    rows.push({
      algo,
      env,
      torso,
      coordrlStepsPerSec: runs.map((r) => r.coordrl.envStepsPerSec),
      sb3StepsPerSec: runs.map((r) => r.sb3.envStepsPerSec),
      ratio: ratios,
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      ...(runs[0].coordrlNoPipeline
        ? {
            coordrlNoPipelineStepsPerSec: runs.map((r) => r.coordrlNoPipeline.envStepsPerSec),
            ratioNoPipeline: runs.map((r) => r.ratioNoPipeline),
          }
        : {}),
      threads: o.threads ?? 'default',
      precision: o.precision ?? 'fp32',
      runs,
    });
  }
}
const fmt = (xs, digits) => xs.map((x) => x.toFixed(digits)).join(' / ');
if (o.json) console.log(JSON.stringify(rows, null, 2));
else {
  const unpiped = rows.some((r) => r.ratioNoPipeline);
  const extraHead = unpiped ? ' coordrl --no-pipeline env steps/s | ratio --no-pipeline |' : '';
  console.log(`| agent | env | torso | coordrl env steps/s | SB3 env steps/s | ratio |${extraHead}`);
  console.log(`| --- | --- | --- | ---: | ---: | ---: |${unpiped ? ' ---: | ---: |' : ''}`);
  for (const r of rows) {
    const extra = unpiped
      ? r.ratioNoPipeline
        ? ` ${fmt(r.coordrlNoPipelineStepsPerSec, 0)} | ${fmt(r.ratioNoPipeline, 2)} |`
        : ' | |'
      : '';
    console.log(
      `| ${r.algo} | ${r.env} | ${r.torso} | ${fmt(r.coordrlStepsPerSec, 0)} | ${fmt(r.sb3StepsPerSec, 0)} | ${fmt(r.ratio, 2)} |${extra}`,
    );
  }
}
