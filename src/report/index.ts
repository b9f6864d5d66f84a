// `coordrl report`: summary.json, report.html and plots/*.png of an A/B experiment directory.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { probePython } from '../../envs/python-probe.js';
import { activeBackend } from '../backend.js';
import {
  plural,
  type ReportVersions,
  type Summary,
  type SummaryOptions,
  summarizeExperiment,
} from '../experiments/summary.js';
import { tf } from '../tf.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic-write.js';
import { PACKAGE_VERSION } from '../version.js';
import { renderSvg, reportCharts, svgToPng } from './charts.js';
import { renderHtml } from './html.js';

export interface ReportFiles {
  summary: string;
  html: string;
  plots: string[];
}

export interface ReportResult {
  summary: Summary;
  files: ReportFiles;
}

/**
 * Versions on this machine: coordrl, Node, tfjs (TensorFlow only where this process already
 * loaded it: each run records the TensorFlow it trained with), and the env server's Python packages.
 */
export function reportVersions(): ReportVersions {
  const backend = activeBackend();
  const py = probePython();
  const python: Record<string, string> = {};
  if (py.ok) {
    for (const k of ['version', 'gymnasium', 'alepy', 'pyzmq', 'msgpack', 'numpy'] as const) {
      const v = py[k];
      if (v) python[k === 'version' ? 'python' : k === 'alepy' ? 'ale-py' : k] = v;
    }
  }
  return {
    coordrl: PACKAGE_VERSION,
    node: process.versions.node,
    tfjs: backend?.tfjsVersion ?? tf.version_core,
    tensorflow: backend?.tensorflowVersion ?? null,
    python: py.ok ? python : null,
  };
}

export async function writeReport(
  expDir: string,
  opts: SummaryOptions & { png?: boolean /** where the files go (default: expDir) */; outDir?: string } = {},
): Promise<ReportResult> {
  const summary = summarizeExperiment(expDir, { ...opts, versions: opts.versions ?? reportVersions() });
  const outDir = opts.outDir ?? expDir;
  mkdirSync(outDir, { recursive: true });
  const charts = reportCharts(summary);
  const svgs = new Map<string, string>();
  for (const [i, c] of charts.entries()) svgs.set(c.name, await renderSvg(c.spec, `c${i}-`));
  const plotsDir = path.join(outDir, 'plots');
  const plots: string[] = [];
  if (opts.png !== false) {
    mkdirSync(plotsDir, { recursive: true });
    // Plots of an earlier report that this one no longer has (a game with no data yet) go.
    const current = new Set(charts.map((c) => `${c.name}.png`));
    for (const f of readdirSync(plotsDir)) {
      if (
        /^(curves-.*|runs-.*|final-.*|aggregate|improvement|profile|sample-efficiency)\.png$/.test(f) &&
        !current.has(f)
      )
        rmSync(path.join(plotsDir, f));
    }
    for (const c of charts) {
      const file = path.join(plotsDir, `${c.name}.png`);
      writeFileSync(file, svgToPng(svgs.get(c.name) as string));
      plots.push(file);
    }
  }
  const summaryFile = path.join(outDir, 'summary.json');
  writeJsonAtomic(summaryFile, summary);
  const htmlFile = path.join(outDir, 'report.html');
  writeFileAtomic(htmlFile, renderHtml(summary, svgs, { plotsDir: plots.length ? 'plots/' : undefined }));
  return { summary, files: { summary: summaryFile, html: htmlFile, plots } };
}

/** The verdicts and where the files are, for people. */
export function describeReport(r: ReportResult): string {
  const s = r.summary;
  return [
    `${s.progress.done} of ${plural(s.progress.total, 'run')} done.`,
    ...s.verdicts,
    `summary: ${r.files.summary}`,
    `report:  ${r.files.html}`,
    ...(r.files.plots.length ? [`plots:   ${path.dirname(r.files.plots[0])}/ (${r.files.plots.length} PNG)`] : []),
  ].join('\n');
}
