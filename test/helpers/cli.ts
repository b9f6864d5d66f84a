// Runs the compiled CLI (dist/, from `npm run build`) as a user would, with TensorFlow's start-up
// INFO lines (not ours) filtered out of stderr.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'coordrl.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  /** Non-empty stderr lines. */
  stderr: string[];
}

function tfNoise(l: string): boolean {
  return /absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow/.test(l);
}

export function coordrl(args: string[], opts: { cwd?: string; prefix?: string[] } = {}): CliResult {
  const argv = [...(opts.prefix ?? []), process.execPath, BIN, ...args];
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: opts.cwd,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => l && !tfNoise(l)) };
}

/** The error line of a failed command (the `(run with --help ...)` hint aside). */
export function errorLines(r: CliResult): string[] {
  return r.stderr.filter((l) => !l.startsWith('(run with --help'));
}
