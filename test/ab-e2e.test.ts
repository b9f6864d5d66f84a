// One small real A/B experiment end to end: CartPole-v1, A2C, two MLP arms that differ in the
// learning rate, 3 paired seeds, 5k steps each, 3 evaluation episodes, 2 runs at a time as child
// `coordrl train/eval` processes (the compiled dist/, built by `npm test` before vitest); then a
// resume that must start nothing, `coordrl report`, and the page in headless Chromium.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { registerAb } from '../src/commands/ab.js';
import { registerReport } from '../src/commands/report.js';
import { FINAL_FILE, type FinalFile, readManifest } from '../src/experiments/manifest.js';

const CHROMIUM = process.env.COORDRL_CHROMIUM ?? '/usr/bin/chromium';

/** Runs `coordrl <args>` in this process (ab and report are not wired into src/cli.ts here); returns stdout. */
async function coordrl(...args: string[]): Promise<string> {
  const program = new Command('coordrl').exitOverride();
  registerAb(program);
  registerReport(program);
  for (const c of program.commands) c.exitOverride();
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    await program.parseAsync(['node', 'coordrl', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('coordrl ab end to end (CartPole-v1, A2C, 2 arms x 3 seeds)', () => {
  it('trains, evaluates, resumes nothing twice, reports, and the report renders in Chromium', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'coordrl-ab-e2e-'));
    const arms = path.join(root, 'arms.yaml');
    writeFileSync(
      arms,
      'arms:\n  - {name: lr-low, torso: mlp, lr: 0.0003}\n  - {name: lr-high, torso: mlp, lr: 0.003}\n',
    );
    const exp = path.join(root, 'exp');
    const flags = ['--algo', 'a2c', '--envs', 'CartPole-v1', '--arms-file', arms, '--seeds', '3'];
    const budget = ['--steps', '5000', '--num-envs', '8', '--log-every', '500', '--eval-episodes', '3'];
    const first = JSON.parse(
      await coordrl('ab', ...flags, ...budget, '--parallel', '2', '--out', exp, '--status-every', '0', '--json'),
    );
    expect(first).toMatchObject({ total: 6, done: 6, interrupted: false, failed: [] });
    expect(first.launches.filter((l: { stage: string }) => l.stage === 'train')).toHaveLength(6);
    expect(first.launches.filter((l: { stage: string }) => l.stage === 'eval')).toHaveLength(6);
    expect(process.exitCode ?? 0).toBe(0);

    const m = readManifest(exp);
    for (const run of m.runs) {
      expect(run).toMatchObject({ status: 'done', steps: 5000, budgetSteps: 5000, scoreSource: 'eval' });
      const runDir = path.join(exp, run.dir);
      const cfg = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')).config;
      // Paired seeds: the run seed (hence the env seeds) is the experiment seed, in both arms.
      expect(cfg).toMatchObject({
        env: 'CartPole-v1',
        seed: run.seed,
        torso: 'mlp',
        lr: run.arm === 'lr-low' ? 3e-4 : 3e-3,
      });
      const final = JSON.parse(readFileSync(path.join(runDir, FINAL_FILE), 'utf8')) as FinalFile;
      expect(final.eval?.episodes).toBe(3);
      expect(final.checkpointStep).toBe(5000);
      expect(final.score).toBeGreaterThan(0);
      expect(existsSync(path.join(runDir, 'metrics.jsonl'))).toBe(true);
    }

    // Everything is done: a resume starts no child process at all.
    const again = JSON.parse(await coordrl('ab', '--resume', exp, '--status-every', '0', '--no-report', '--json'));
    expect(again).toMatchObject({ total: 6, done: 6, launches: [] });

    const summary = JSON.parse(await coordrl('report', exp, '--reps', '500', '--json'));
    expect(summary.normalization.kind).toBe('raw');
    expect(summary.scores.source).toBe('eval');
    expect(summary.games[0].arms.map((a: { n: number }) => a.n)).toEqual([3, 3]);
    expect(summary.games[0].curves[0].points.length).toBeGreaterThan(5);
    expect(summary.comparisons).toHaveLength(1);
    expect(summary.comparisons[0].verdict).toMatch(
      /^lr-high better than lr-low on [01] of 1 game.*: (not significant at 3 runs per arm|lr-high (better|worse) than lr-low, significant)/,
    );
    expect(summary.configDiff).toEqual([{ field: 'lr', values: { 'lr-low': 3e-4, 'lr-high': 3e-3 } }]);
    // What a reviewer checks: budget, command, shared settings, and every run's time and speed.
    expect(summary.budget).toMatchObject({ steps: 5000, frames: 5000 });
    expect(summary.experiment.command.slice(0, 3)).toEqual(['ab', '--algo', 'a2c']);
    expect(summary.hyperparameters.shared).toMatchObject({ algo: 'a2c', numEnvs: 8, logEvery: 500, torso: 'mlp' });
    for (const r of summary.runs) {
      expect(r).toMatchObject({ status: 'done', steps: 5000, frames: 5000, note: null });
      expect(r.wallSeconds).toBeGreaterThan(0);
      expect(r.stepsPerSecond).toBeGreaterThan(0);
      expect(r.curvePoints).toBeGreaterThanOrEqual(9);
      expect(r.versions).toMatchObject({ backend: 'tensorflow', tfjs: '4.22.0' });
      // The env server's side too: the Python packages that made the frames.
      expect(r.versions?.envServer).toMatchObject({ gymnasium: expect.any(String), python: expect.any(String) });
    }
    expect(summary.files.plots).toHaveLength(7); // with sample-efficiency.png

    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is needed for this test and ${CHROMIUM} is missing: apt-get install -y chromium`);
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${summary.files.html}`, { waitUntil: 'load' });
      const charts = await page.$$eval('figure.chart svg', (svgs) =>
        svgs.map((s) => ({
          width: s.getBoundingClientRect().width,
          marks: s.querySelectorAll('g.role-mark > path, g.role-mark > line, g.role-mark > rect').length,
        })),
      );
      expect(errors).toEqual([]);
      expect(charts).toHaveLength(7); // with the sample-efficiency chart
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(100);
        expect(c.marks).toBeGreaterThan(0);
      }
      await page.screenshot({ path: path.join(exp, 'report-screenshot.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 180_000);
});
