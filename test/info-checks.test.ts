// `coordrl info` runs the checks resume runs: a checkpoint whose files verify (its manifest's
// checksums updated after a hand edit) but whose state.json or settings resume would refuse is
// not "ok"; info says what it checked.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coordrl } from './helpers/cli.js';

/** Rewrites a file of a checkpoint and its entry in the checkpoint's manifest: consistent, tampered. */
function tamper(ckDir: string, rel: string, edit: (text: string) => string): void {
  const file = path.join(ckDir, rel);
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  const mfile = path.join(ckDir, 'manifest.json');
  const m = JSON.parse(readFileSync(mfile, 'utf8'));
  m.files[rel] = {
    ...m.files[rel],
    size: statSync(file).size,
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
  };
  writeFileSync(mfile, JSON.stringify(m));
}

describe('coordrl info checks what resume checks', () => {
  it('tampered-but-consistent checkpoints are unusable in info, as resume skips them', () => {
    const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-info-')), 'R');
    const t = coordrl([
      ...['train', '--algo', 'a2c', '--env', 'CartPole-v1', '--steps', '1200', '--num-envs', '2'],
      ...['--checkpoint-every', '400', '--keep-checkpoints', '5', '--no-progress', '--run-dir', runDir],
    ]);
    expect(t.code, t.stderr.join('\n')).toBe(0);
    const ck = (step: number) => path.join(runDir, 'checkpoints', `step-${String(step).padStart(9, '0')}`);
    tamper(ck(1200), 'state.json', (s) => s.replace(/"steps":\s*1200/, '"steps":"abc"'));
    tamper(ck(800), 'state.json', (s) => s.replace(/"env":\s*"CartPole-v1"/, '"env":"Acrobot-v1"'));
    const r = coordrl(['info', runDir, '--json']);
    expect(r.code, r.stderr.join('\n')).toBe(0);
    const info = JSON.parse(r.stdout);
    const status = Object.fromEntries(
      info.checkpoints.map((c: { step: number; status: string }) => [c.step, c.status]),
    );
    expect(status[1200]).toMatch(/^unusable \(state\.json: 'counters\.steps': /);
    expect(status[800]).toMatch(
      /^unusable \(config\.json differs: 'env' is "CartPole-v1" in config\.json, "Acrobot-v1"/,
    );
    expect(status[400]).toBe('ok');
    expect(info.checks.checked).toMatch(/file checksums, state\.json/);
    const text = coordrl(['info', runDir]);
    expect(text.stdout).toMatch(/checkpoints \(checked: file checksums.*; not checked: network shapes/);
  }, 120_000);
});
