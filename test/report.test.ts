// coordrl report on a synthetic, partly finished experiment: summary.json, a self-contained
// report.html that loads in a real headless Chromium (Debian's, driven by playwright-core) with
// rendered charts and no console errors, and PNG plots whose text is really drawn.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { registerReport, TRAIN_REPORT_DIR } from '../src/commands/report.js';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment, FINAL_FILE, type FinalFile } from '../src/experiments/manifest.js';
import { prefixIds, svgToImage } from '../src/report/charts.js';
import { shellLine } from '../src/report/html.js';
import { writeReport } from '../src/report/index.js';
import { runCli } from './helpers/in-process-cli.js';

const CHROMIUM = process.env.COORDRL_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * pong and breakout, conv vs coordconv, 3 seeds; breakout/coordconv/seed-3 not finished.
 * `opts.noEpisodes`: a run id whose training finished no episode (its records have no score).
 */
function synthExperiment(opts: { noEpisodes?: string; envs?: string[]; evalEpisodes?: number } = {}): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-report-')), 'exp');
  const m = createExperiment(dir, {
    algo: 'a2c',
    envs: opts.envs ?? ['pong', 'breakout'],
    arms: parseArms('conv,coordconv', undefined),
    seeds: [1, 2, 3],
    evalEpisodes: opts.evalEpisodes ?? 10,
    base: { frames: 400_000 },
    command: ['ab', '--env', 'pong,breakout', '--note', 'two words'],
  });
  for (const run of m.runs) {
    const runDir = path.join(dir, run.dir);
    mkdirSync(runDir, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(dir, run.configFile), 'utf8'));
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ config, budgetSteps: 100_000, frameSkip: 4 }));
    const cc = run.arm === 'coordconv';
    const unfinished = run.id === 'breakout/coordconv/seed-3';
    const start = run.game === 'pong' ? -21 : 1;
    const gain = (run.game === 'pong' ? 10 : 8) * (cc ? 1.3 : 1) + run.seed;
    const points = unfinished ? 4 : 10;
    const none = run.id === opts.noEpisodes;
    const lines = Array.from({ length: points }, (_, i) => {
      const step = 10_000 * (i + 1);
      const score = none ? null : start + (gain * (i + 1)) / 10;
      return JSON.stringify({ step, frames: 4 * step, time: 2 * (i + 1), episodes: none ? 0 : 5 * (i + 1), score });
    });
    writeFileSync(path.join(runDir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    if (!unfinished) {
      const score = start + gain + (cc ? 1 : 0);
      const final: FinalFile = {
        coordrl: 'test',
        createdAt: '',
        source: 'eval',
        score,
        checkpointStep: 100_000,
        eval: { episodes: 10, scores: Array(10).fill(score), mean: score, median: score, min: score, max: score },
        trainScore: start + gain,
      };
      writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify(final));
    }
  }
  return dir;
}

describe('coordrl report', () => {
  it('writes summary.json, a self-contained report.html and PNG plots, marking what is missing', async () => {
    const dir = synthExperiment();
    const r = await writeReport(dir, { reps: 300 });
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.progress).toMatchObject({ total: 12, done: 11 });
    expect(summary.progress.missing).toEqual([
      expect.objectContaining({
        id: 'breakout/coordconv/seed-3',
        status: 'partial',
        detail: 'trained 40,000 of 100,000 steps',
      }),
    ]);
    expect(summary.comparisons[0].verdict).toMatch(/^coordconv better than conv on 2 of 2 games/);
    expect(summary.comparisons[0].verdict).toMatch(/Based on 11 of 12 runs; 1 missing\.$/);

    const html = readFileSync(r.files.html, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(http/i);
    // aggregate, improvement, profile, sample efficiency, 2 x (curves, every run, final)
    expect(html.match(/<svg/g)?.length).toBe(10);
    expect(html).toContain('breakout/coordconv/seed-3');
    expect(html).toContain('This experiment is not finished');
    // SVG ids are unique across the page (clip paths of one chart must not clip another).
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);

    expect(readdirSync(path.join(dir, 'plots')).sort()).toEqual([
      'aggregate.png',
      'curves-breakout.png',
      'curves-pong.png',
      'final-breakout.png',
      'final-pong.png',
      'improvement.png',
      'profile.png',
      'runs-breakout.png',
      'runs-pong.png',
      'sample-efficiency.png',
    ]);
    for (const f of r.files.plots) {
      const png = readFileSync(f);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.readUInt32BE(16)).toBeGreaterThan(300); // width at 2x
    }
  });

  it('states budget, shared hyperparameters, versions, the command and every run for a reviewer', async () => {
    const dir = synthExperiment({ noEpisodes: 'pong/conv/seed-2', envs: ['pong'], evalEpisodes: 1 });
    const r = await writeReport(dir, {
      reps: 200,
      png: false,
      versions: { coordrl: '9.9.9', node: '20', tfjs: '4.22.0' },
    });
    const s = r.summary;
    expect(s.budget).toEqual({
      steps: 100_000,
      frames: 400_000,
      byGame: [{ game: 'pong', steps: 100_000, frames: 400_000, frameSkip: 4 }],
    });
    expect(s.experiment.command).toEqual(['ab', '--env', 'pong,breakout', '--note', 'two words']);
    expect(shellLine(['--note', "it's"])).toBe(`--note 'it'\\''s'`);
    // Everything the arms share, not only what differs (torso differs, so it is not shared).
    expect(s.hyperparameters.shared).toMatchObject({ algo: 'a2c', numEnvs: 16, nSteps: 5, frames: 400_000 });
    expect(s.hyperparameters.shared).not.toHaveProperty('torso');
    expect(s.hyperparameters.shared).not.toHaveProperty('seed');
    expect(s.versions.report.coordrl).toBe('9.9.9');
    const run = s.runs.find((x) => x.id === 'pong/coordconv/seed-1');
    expect(run).toMatchObject({ status: 'done', steps: 100_000, frames: 400_000, wallSeconds: 20, episodes: 50 });
    expect(run?.stepsPerSecond).toBeCloseTo(5000, 9);
    expect(run?.curvePoints).toBe(10);
    const none = s.runs.find((x) => x.id === 'pong/conv/seed-2');
    expect(none?.curvePoints).toBe(0);
    expect(none?.note).toMatch(/no training episode finished in 100,000 steps/);
    // Every run has its own curve in the summary, the run without episodes an empty one.
    expect(s.games[0].runCurves.map((c) => c.points.length)).toEqual([10, 0, 10, 10, 10, 10]);
    expect(s.scores.note).toContain('1 greedy evaluation episode per run');
    const html = readFileSync(r.files.html, 'utf8');
    expect(html).toContain('Budget: 400,000 frames = 100,000 agent steps per run (frame skip 4');
    expect(html).toContain('coordrl ab --env pong,breakout --note &#39;two words&#39;');
    expect(html).toContain('No curve for conv seed 2: no training episode finished in its budget.');
    expect(html).toContain('<td>numEnvs</td><td><code>16</code></td>');
    expect(html).toContain('This report: coordrl 9.9.9, Node 20, tfjs 4.22.0');
    expect(html).toMatch(
      /<td>pong\/coordconv\/seed-1<\/td><td>done<\/td><td class="num">100,000 \/ 100,000<\/td><td class="num">400,000<\/td><td class="num">20.0 s<\/td><td class="num">5,000<\/td>/,
    );
    expect(html).not.toMatch(/1 greedy evaluation episodes/);
  });

  it("labels MinAtar scores reference-normalised and names the paper's DQN reference", async () => {
    const dir = synthExperiment({ envs: ['minatar/breakout'] });
    const r = await writeReport(dir, { reps: 100, png: false });
    expect(r.summary.normalization.kind).toBe('minatar');
    const html = readFileSync(r.files.html, 'utf8');
    expect(html).toContain('Scores: reference-normalised.');
    expect(html).toContain('random 0.38, the MinAtar paper&#39;s DQN at 5M frames 10.');
    expect(html).not.toContain('human-normalised');
  });

  it('coordrl report --score train: the training-window verdict in report-train/, the default report untouched', async () => {
    const dir = synthExperiment({ envs: ['minatar/breakout'] });
    const first = JSON.parse(await runCli([registerReport], ['report', dir, '--reps', '100', '--no-png', '--json']));
    const train = JSON.parse(
      await runCli([registerReport], ['report', dir, '--reps', '100', '--no-png', '--score', 'train', '--json']),
    );
    expect(first.scores.source).toBe('eval');
    expect(train.scores.source).toBe('train-window');
    expect(train.files.summary).toBe(path.join(dir, TRAIN_REPORT_DIR, 'summary.json'));
    expect(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')).scores.source).toBe('eval');
    // The synthetic evaluation adds 1 to coordconv's training score: the two reports differ by it.
    const mean = (s: { games: { arms: { mean: number }[] }[] }, arm: number) => s.games[0].arms[arm].mean;
    expect(mean(first, 1) - mean(train, 1)).toBeCloseTo(1, 9);
    expect(mean(first, 0)).toBeCloseTo(mean(train, 0), 9);
    expect(readFileSync(train.files.html, 'utf8')).toContain('last 100 training episodes');
    await expect(runCli([registerReport], ['report', dir, '--score', 'best'], { quietStderr: true })).rejects.toThrow(
      /Allowed choices are final, train/,
    );
  });

  it('draws a sensible performance profile when every run has the same score', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'coordrl-report-eq-')), 'exp');
    const m = createExperiment(dir, {
      algo: 'a2c',
      envs: ['pong'],
      arms: parseArms('conv,coordconv', undefined),
      seeds: [1, 2],
      evalEpisodes: 1,
      base: { frames: 4000 },
    });
    for (const run of m.runs) {
      const runDir = path.join(dir, run.dir);
      mkdirSync(runDir, { recursive: true });
      const final = { coordrl: 'test', createdAt: '', source: 'eval', score: -21, checkpointStep: 1, eval: null };
      writeFileSync(path.join(runDir, FINAL_FILE), JSON.stringify({ ...final, trainScore: null }));
    }
    const r = await writeReport(dir, { reps: 100, png: false });
    const p = r.summary.aggregate?.profile;
    expect(p?.taus).toHaveLength(41);
    expect(p?.taus[0]).toBeLessThan(p?.taus[40] as number);
    const fractions = p?.arms[0].points.map((x) => x.estimate) ?? [];
    expect(fractions[0]).toBe(1); // below the common score every run is above tau
    expect(fractions[40]).toBe(0);
    expect(readFileSync(r.files.html, 'utf8')).toContain('Every run has the same final score');
  });

  it('draws text in PNGs (a font is installed: Debian fonts-dejavu-core)', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text x="4" y="22" font-family="DejaVu Sans, sans-serif" font-size="20">Hello</text></svg>';
    const img = svgToImage(svg, 1);
    let dark = 0;
    for (let i = 0; i < img.pixels.length; i += 4) if (img.pixels[i] < 128) dark++;
    expect(dark, 'no text pixels: resvg found no font (apt-get install -y fonts-dejavu-core)').toBeGreaterThan(30);
  });

  it('prefixes SVG ids and their references only', () => {
    const svg = '<svg><clipPath id="clip1"/><g clip-path="url(#clip1)"/><use href="#clip1"/><a href="#other"/></svg>';
    expect(prefixIds(svg, 'c3-')).toBe(
      '<svg><clipPath id="c3-clip1"/><g clip-path="url(#c3-clip1)"/><use href="#c3-clip1"/><a href="#other"/></svg>',
    );
  });

  it('renders in headless Chromium with no console errors, charts with data marks, and a screenshot', async () => {
    const dir = synthExperiment();
    const r = await writeReport(dir, { reps: 300, png: false });
    const shot = path.join(dir, 'report-screenshot.png');
    const page = await checkInChromium(r.files.html, shot);
    expect(page.errors).toEqual([]);
    expect(page.charts).toHaveLength(10);
    expect(page.charts.map((c) => c.name)).toContain('sample-efficiency');
    for (const c of page.charts) {
      expect(c.width, c.name).toBeGreaterThan(100);
      expect(c.height, c.name).toBeGreaterThan(50);
      expect(c.marks, c.name).toBeGreaterThan(0);
    }
    expect(page.text).toContain('coordconv better than conv on 2 of 2 games');
    expect(page.text).toContain('Budget: 400,000 frames = 100,000 agent steps per run');
    expect(page.text).toContain('P(B > A) on this game, 95% bootstrap interval');
    expect(page.text).toContain('IQM(coordconv) - IQM(conv)');
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    process.stderr.write(`report screenshot: ${shot}\n`);
  }, 60_000);
});

/** Loads a page in Debian's Chromium; console errors, each chart's size and data marks. */
async function checkInChromium(htmlFile: string, screenshot: string) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is needed for this test and ${CHROMIUM} is missing: apt-get install -y chromium (or set COORDRL_CHROMIUM)`,
    );
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
    await page.goto(`file://${htmlFile}`, { waitUntil: 'load' });
    const charts = await page.$$eval('figure.chart', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        // Data marks: the shapes inside Vega's mark groups (lines, areas, symbols, rules, ticks) with a size.
        const marks = [
          ...(svg?.querySelectorAll('g.role-mark > path, g.role-mark > line, g.role-mark > rect') ?? []),
        ].filter((el) => {
          const b = (el as unknown as { getBBox(): { width: number; height: number } }).getBBox();
          return b.width > 0 || b.height > 0;
        }).length;
        return { name: f.getAttribute('data-chart') ?? '', width: box?.width ?? 0, height: box?.height ?? 0, marks };
      }),
    );
    const text = (await page.textContent('body')) ?? '';
    await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, charts, text };
  } finally {
    await browser.close();
  }
}
