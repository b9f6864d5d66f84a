// Runs the CLI as a user does (the compiled dist/, built by `npm test` before vitest).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'coordrl.js');

/** Exit code, stdout, and stderr lines without TensorFlow's own start-up INFO lines. */
export function coordrl(...args: string[]): { code: number | null; stdout: string; stderr: string[] } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l && !/absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|rebuild TensorFlow/.test(l));
  return { code: r.status, stdout: r.stdout, stderr };
}
