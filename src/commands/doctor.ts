// `coordrl doctor`: what a user needs to know before a long run, measured, not assumed.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { makeVecEnv } from '../../envs/index.js';
import { type PythonReport, probePython } from '../../envs/python-probe.js';
import { BACKEND_CHOICES, type BackendChoice, type BackendInfo, initBackend } from '../backend.js';
import { compiledAvailability } from '../compiled/graph.js';
import { printResult } from '../util/output.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../version.js';
import { backendOption, jsonOption } from './options.js';

export interface DoctorReport {
  coordrl: string;
  node: string;
  platform: string;
  cpus: number;
  memoryGiB: number;
  backend: string;
  requestedBackend: BackendChoice;
  device: 'gpu' | 'cpu';
  nativePackage: string | null;
  tensorflowVersion: string | null;
  tfjsVersion: string;
  addonSetup: { route?: string; ok?: boolean; failures?: string[] } | null;
  /** Whether the agents' updates run as compiled TensorFlow graphs (native/tfgraph), and why not. */
  compiledSteps: string;
  python: PythonReport;
  roms: number | null;
  bridge: { ok: boolean; roundTripMs?: number; error?: string; skipped?: string };
  warnings: string[];
  ok: boolean;
}

function readAddonStamp(pkg: string | null): DoctorReport['addonSetup'] {
  const name = pkg ?? '@tensorflow/tfjs-node';
  const file = path.join(PACKAGE_ROOT, 'node_modules', ...name.split('/'), '.coordrl-addon.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DoctorReport['addonSetup'];
  } catch {
    return null;
  }
}

/** Starts an env server, makes a CartPole env and times a step round trip (median of 20). */
async function bridgeCheck(): Promise<DoctorReport['bridge']> {
  let env: Awaited<ReturnType<typeof makeVecEnv>> | null = null;
  try {
    env = await makeVecEnv({ env: 'CartPole-v1', numEnvs: 1 });
    await env.reset(0);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await env.step(new Int32Array(1));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { ok: true, roundTripMs: times[10] };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await env?.close().catch(() => {});
  }
}

export async function runDoctor(choice: BackendChoice, withBridge: boolean): Promise<DoctorReport> {
  const warnings: string[] = [];
  let info: BackendInfo;
  try {
    info = await initBackend(choice);
  } catch (e) {
    warnings.push(e instanceof Error ? e.message : String(e));
    info = await initBackend('cpu');
  }
  warnings.push(...info.warnings);
  const py = probePython();
  const { roms, ...python } = py;
  if (!python.ok && python.error) warnings.push(python.error);
  let bridge: DoctorReport['bridge'];
  if (!withBridge) bridge = { ok: false, skipped: '--no-bridge' };
  else if (!python.ok) bridge = { ok: false, skipped: 'python environment not ready' };
  else {
    bridge = await bridgeCheck();
    if (!bridge.ok) warnings.push(`environment server round trip failed: ${bridge.error}`);
  }
  if (info.backend !== 'tensorflow') warnings.push("training will run on the slow pure-JS 'cpu' backend");
  return {
    coordrl: PACKAGE_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    backend: info.backend,
    requestedBackend: choice,
    device: info.device,
    nativePackage: info.package,
    tensorflowVersion: info.tensorflowVersion,
    tfjsVersion: info.tfjsVersion,
    addonSetup: readAddonStamp(info.package),
    compiledSteps: compiledAvailability().reason,
    python,
    roms,
    bridge,
    warnings,
    ok: info.backend === 'tensorflow' && python.ok && (bridge.ok || bridge.skipped !== undefined),
  };
}

function human(r: DoctorReport): string {
  const mark = (ok: boolean) => (ok ? 'ok ' : '!! ');
  const lines = [
    `coordrl ${r.coordrl} on Node ${r.node} (${r.platform}, ${r.cpus} CPUs, ${r.memoryGiB} GiB)`,
    `${mark(r.backend === 'tensorflow')} backend     ${r.backend} on ${r.device.toUpperCase()} (requested ${r.requestedBackend}; package ${r.nativePackage ?? 'none, pure JS'})`,
    `    tensorflow  ${r.tensorflowVersion ?? '-'}   tfjs ${r.tfjsVersion}${r.addonSetup?.route ? `   addon: ${r.addonSetup.route}` : ''}`,
    `    compiled    ${r.compiledSteps}`,
    `${mark(r.python.ok)} python      ${r.python.version ?? '?'} at ${r.python.executable}`,
    `    packages    gymnasium ${r.python.gymnasium ?? '-'}, ale-py ${r.python.alepy ?? '-'}, pyzmq ${r.python.pyzmq ?? '-'}, msgpack ${r.python.msgpack ?? '-'}, numpy ${r.python.numpy ?? '-'}`,
    `${mark((r.roms ?? 0) > 0)} atari roms  ${r.roms ?? 'unknown'}`,
    `    minatar     ${r.python.minatar ?? 'not installed (optional, GPL-3.0: npm run setup -- --minatar)'}`,
    r.bridge.skipped
      ? `    bridge      skipped (${r.bridge.skipped})`
      : `${mark(r.bridge.ok)} bridge      ${r.bridge.ok ? `round trip ${r.bridge.roundTripMs?.toFixed(2)} ms` : r.bridge.error}`,
  ];
  for (const w of r.warnings) lines.push(`!! ${w}`);
  lines.push(r.ok ? 'All good.' : 'Some checks failed; see the lines marked !! above.');
  return lines.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the native TensorFlow backend, the Python env server and the Atari ROMs')
    .addOption(backendOption())
    .option('--no-bridge', 'skip the round trip to a freshly started environment server')
    .addOption(jsonOption())
    .action(async (opts: { backend: BackendChoice; bridge: boolean; json?: boolean }) => {
      const report = await runDoctor(opts.backend, opts.bridge);
      printResult(Boolean(opts.json), report, () => human(report));
      if (!report.ok) process.exitCode = 1;
    });
}

export { BACKEND_CHOICES };
