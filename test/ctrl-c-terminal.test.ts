// Ctrl-C typed on a terminal while the progress bar runs: the lines the run prints then stay on
// the screen (the bar is stopped first), and a second Ctrl-C before any checkpoint exists does
// not claim that one is kept. The first runs on a pseudo-terminal (test/helpers/pty-run.py); the
// second drives the signal handler directly, since two keys cannot be timed around a save.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { defaultPython } from '../envs/paths.js';
import { StopSignal } from '../src/training/trainer.js';
import { BIN } from './helpers/cli.js';
import { screen } from './helpers/terminal.js';

const PTY_RUN = path.resolve(__dirname, 'helpers', 'pty-run.py');

function onTerminal(keys: string[], args: string[]): { code: number; shown: string[]; raw: string } {
  const keyArgs = keys.flatMap((k, i) => [i === 0 ? '--after' : '--again', k]);
  const r = spawnSync(defaultPython(), [PTY_RUN, ...keyArgs, process.execPath, BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const { output, code } = JSON.parse(r.stdout) as { output: string; code: number };
  return { code, shown: screen(output), raw: output };
}

function runDir(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-ctrlc-')), 'run');
}

describe('Ctrl-C on a terminal', () => {
  it('keeps the stop lines on screen: finishing this iteration, checkpoint saved, stopped at', () => {
    const dir = runDir();
    const r = onTerminal(['steps/s'], ['train', '--env', 'CartPole-v1', '--steps', '1000000', '--run-dir', dir]);
    expect(r.code, r.raw).toBe(130);
    const shown = r.shown.join('\n');
    expect(shown).toMatch(/\nSIGINT: finishing this iteration and saving a checkpoint \(again to exit at once\)\n/);
    expect(shown).toMatch(/\ncheckpoint saved: step-\d{9} \(signal\)\n/);
    expect(shown).toMatch(/\nstopped at step [0-9,]+ /);
    // the bar itself is still there above them, drawn once
    expect(r.shown.filter((l) => /steps\/s/.test(l))).toHaveLength(1);
  }, 120_000);

  it('a second Ctrl-C says which checkpoint is kept, and none before the first save', () => {
    const written: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const exitCodes: unknown[] = [];
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: unknown) => {
      exitCodes.push(code);
    }) as never);
    const stop = new StopSignal().install();
    let barStopped = 0;
    stop.beforeMessage = () => {
      barStopped++;
    };
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
      stop.lastCheckpoint = 'step-000000400';
      process.emit('SIGINT', 'SIGINT');
    } finally {
      stop.uninstall();
      write.mockRestore();
      exit.mockRestore();
    }
    expect(written[0]).toMatch(/SIGINT: finishing this iteration and saving a checkpoint/);
    expect(written[1]).toMatch(
      /SIGINT again: exiting now, before any checkpoint was saved: this run will start from the beginning/,
    );
    expect(written[1]).not.toMatch(/kept/);
    expect(written[2]).toMatch(/SIGINT again: exiting now; the last complete checkpoint \(step-000000400\) is kept/);
    expect(exitCodes).toEqual([130, 130]);
    expect(written).toHaveLength(3);
    expect(barStopped).toBe(3);
  });
});
