// report.html: one self-contained page (inline CSS and SVG; no scripts, no network).
import path from 'node:path';
import type { ArmGameScores, GameSummary, RunRecord, Summary } from '../experiments/summary.js';
import { decimalsFor, fmt, fmtInterval, plural, scoreUnit } from '../experiments/summary.js';
import { codeLabel } from '../experiments/summary-describe.js';
import type { Interval } from '../stats/aggregate.js';
import { minatarScores } from '../stats/minatar-scores.js';
import { PACKAGE_VERSION } from '../version.js';

export function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const CSS = `
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin-top: 22px; }
.meta { color: #555; font-size: 13px; }
.verdict { background: #f5f7fb; border-left: 4px solid #4c78a8; padding: 10px 14px; margin: 8px 0; }
.verdict.sig { border-left-color: #2a9d3a; }
.note { color: #444; font-size: 13px; }
.warn { background: #fff6e5; border-left: 4px solid #e69500; padding: 8px 14px; margin: 8px 0; font-size: 14px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.missing { color: #b00; }
figure.chart { margin: 10px 0 18px; } figure.chart svg { max-width: 100%; height: auto; }
code { background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
`;

function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  const th = head.map((h) => `<th>${h}</th>`).join('');
  const trs = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

function figure(svgs: Map<string, string>, name: string): string {
  const svg = svgs.get(name);
  return svg ? `<figure class="chart" data-chart="${esc(name)}">${svg}</figure>` : '';
}

/** A command line as a shell would take it back (single quotes where needed). */
export function shellLine(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

type TimeUnit = 's' | 'min' | 'h';

/** The unit a set of durations reads best in: the one that suits the longest. */
function timeUnit(seconds: number[]): TimeUnit {
  const longest = Math.max(0, ...seconds);
  return longest < 90 ? 's' : longest < 5400 ? 'min' : 'h';
}

/** A duration in one given unit, so that a column of them does not mix "80.1 s" and "2.0 min". */
function duration(s: number, unit: TimeUnit = timeUnit([s])): string {
  if (unit === 's') return `${s.toFixed(1)} s`;
  if (unit === 'min') return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

function budgetText(summary: Summary): string {
  const b = summary.budget;
  if (b.steps !== null && b.frames !== null) {
    const skip = b.byGame[0]?.frameSkip ?? 1;
    return `${int(b.frames)} frames = ${int(b.steps)} agent steps per run (frame skip ${skip}; steps summed over the parallel envs)`;
  }
  return b.byGame.map((g) => `${esc(g.game)}: ${int(g.frames)} frames = ${int(g.steps)} agent steps`).join('; ');
}

function runsTable(runs: RunRecord[]): string {
  const dash = '<span class="missing">-</span>';
  const unit = timeUnit(runs.flatMap((r) => (r.wallSeconds === null ? [] : [r.wallSeconds])));
  const rows = runs.map((r) => [
    esc(r.id),
    r.status === 'done' ? 'done' : `<span class="missing">${esc(r.status)}</span>`,
    r.steps === null ? dash : `${int(r.steps)} / ${int(r.budgetSteps)}`,
    r.frames === null ? dash : int(r.frames),
    r.wallSeconds === null ? dash : duration(r.wallSeconds, unit),
    r.stepsPerSecond === null ? dash : int(r.stepsPerSecond),
    r.episodes === null ? dash : int(r.episodes),
    String(r.curvePoints),
    r.finalScore === null ? dash : fmt(r.finalScore, decimalsFor([r.finalScore], 'raw')),
    r.note ? `<span class="missing">${esc(r.note)}</span>` : '',
  ]);
  return table(
    [
      'run',
      'status',
      'steps / budget',
      'frames',
      'wall time',
      'steps/s',
      'episodes',
      'curve points',
      'final score',
      'note',
    ],
    rows,
    [false, false, true, true, true, true, true, true, true, false],
  );
}

function versionsSection(summary: Summary): string {
  const v = summary.versions;
  const r = v.report;
  const py = r.python
    ? Object.entries(r.python)
        .map(([k, x]) => `${k} ${x}`)
        .join(', ')
    : null;
  const lines = [
    `Experiment made with coordrl ${esc(v.experiment)}.`,
    `This report: coordrl ${esc(r.coordrl)}, Node ${esc(r.node)}${r.tfjs ? `, tfjs ${esc(r.tfjs)}` : ''}${r.tensorflow ? `, TensorFlow ${esc(r.tensorflow)}` : ''}${py ? `; env server Python: ${esc(py)}` : ''}.`,
  ];
  let out = `<p class="note">${lines.join(' ')}</p>`;
  if (v.runs.length) {
    out += table(
      ['runs', 'code', 'machine', 'coordrl', 'Node', 'tfjs', 'TensorFlow', 'backend / device', 'env server'],
      v.runs.map((g) => [
        g.runs.length === summary.runs.length ? `all ${g.runs.length}` : esc(g.runs.join(', ')),
        esc(codeLabel(g.versions) ?? '-'),
        g.versions.machine ? esc(`${g.versions.machine.cpuModel}, ${g.versions.machine.cores} cores`) : '-',
        esc(g.versions.coordrl),
        esc(g.versions.node),
        esc(g.versions.tfjs),
        esc(g.versions.tensorflow ?? '-'),
        `${esc(g.versions.backend)} / ${esc(g.versions.device)}`,
        g.versions.envServer
          ? esc(
              Object.entries(g.versions.envServer)
                .map(([k, x]) => `${k} ${x}`)
                .join(', '),
            )
          : '-',
      ]),
    );
  } else {
    out += '<p class="note">No run recorded its versions (runs made before coordrl wrote versions.json).</p>';
  }
  return out;
}

function gameTable(g: GameSummary): string {
  const values = g.arms.flatMap((a) => a.runs.map((r) => r.score));
  const d = decimalsFor(values, 'raw');
  const n = (x: number | null) => (x === null ? '<span class="missing">-</span>' : fmt(x, d));
  const seeds = (a: ArmGameScores) =>
    a.runs.length
      ? a.runs
          .slice()
          .sort((p, q) => p.seed - q.seed)
          .map((r) => `s${r.seed}: ${fmt(r.score, d)}`)
          .join(', ')
      : '';
  const rows = g.arms.map((a) => [
    esc(a.arm),
    `${a.n} / ${a.planned}${a.n < a.planned ? ' <span class="missing">(missing)</span>' : ''}`,
    n(a.mean),
    n(a.median),
    n(a.min),
    n(a.max),
    esc(seeds(a)),
  ]);
  let out = table(['arm', 'runs done', 'mean', 'median', 'min', 'max', 'per seed'], rows, [
    false,
    true,
    true,
    true,
    true,
    true,
    false,
  ]);
  const cmp = g.comparisons.filter((c) => c.meanDiff);
  if (cmp.length) {
    out += table(
      ['comparison', 'mean(B) - mean(A), 95% bootstrap interval', 'P(B > A) on this game, 95% bootstrap interval'],
      cmp.map((c) => [
        `${esc(c.b)} vs ${esc(c.a)}`,
        esc(fmtInterval(c.meanDiff as Interval, decimalsFor([c.meanDiff?.lo ?? 0, c.meanDiff?.hi ?? 0], 'raw'), true)),
        c.poi ? esc(fmtInterval(c.poi, 2)) : '<span class="missing">-</span>',
      ]),
      [false, true, true],
    );
  }
  if (g.reference) {
    out += `<p class="note">Reference scores for ${esc(g.env)}: random ${g.reference.random}, human ${g.reference.human}.</p>`;
  }
  const minatar = minatarScores(g.env);
  if (minatar?.reference != null) {
    out += `<p class="note">${esc(`Reference scores for ${g.env}: random ${minatar.random}, the MinAtar paper's DQN at 5M frames ${minatar.reference}.`)}</p>`;
  }
  return out;
}

/** Up to `n` indices of a grid of `len` points, evenly spaced, the last one always among them. */
function spreadIndices(len: number, n: number): number[] {
  if (len <= n) return [...Array(len).keys()];
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round(((len - 1) * (i + 1)) / n)))];
}

function sampleEfficiencySection(summary: Summary, svgs: Map<string, string>): string {
  const se = summary.sampleEfficiency;
  if (!se) {
    return '<p class="missing">No sample-efficiency curve yet: no point of the frames grid has a logged training curve of every arm on every game.</p>';
  }
  const kind = summary.normalization.kind;
  const all = [...se.arms, ...se.differences].flatMap((a) => a.points.flatMap((p) => [p.lo, p.hi]));
  const d = decimalsFor(all, kind);
  const rows = spreadIndices(se.grid.length, 5).map((k) => [
    int(se.grid[k]),
    ...se.arms.map((a) => `${esc(fmtInterval(a.points[k], d))} (${a.runs[k]} runs)`),
    ...se.differences.map((c) => esc(fmtInterval(c.points[k], d, true))),
  ]);
  const head = [
    'frames',
    ...se.arms.map((a) => `IQM ${esc(a.arm)}`),
    ...se.differences.map((c) => `IQM(${esc(c.b)}) - IQM(${esc(c.a)})`),
  ];
  const note = `<p class="note">Training scores (mean of the last 100 training episodes, ${esc(scoreUnit(kind, true))}) of every run, interpolated at ${plural(se.grid.length, 'point')} of a common frames grid; at each point the IQM over all runs of all games (rliable's sample-efficiency curve), with 95% stratified bootstrap intervals from ${summary.bootstrap.reps} resamples. A run whose curve has not reached a point is left out there; a point is shown only where every game has a run of every arm. The training scores are of the exploring policy, not the evaluated one the verdict uses.</p>`;
  return `${note}${table(
    head,
    rows,
    head.map((_, i) => i > 0),
  )}${figure(svgs, 'sample-efficiency')}`;
}

export function renderHtml(summary: Summary, svgs: Map<string, string>, opts: { plotsDir?: string } = {}): string {
  const ex = summary.experiment;
  const name = path.basename(ex.dir);
  const kind = summary.normalization.kind;
  const parts: string[] = [];
  parts.push(`<h1>A/B experiment: ${esc(name)}</h1>`);
  parts.push(
    `<p class="meta">${esc(ex.algo.toUpperCase())} on ${ex.games.map((g) => esc(g.env)).join(', ')}; arms ${ex.arms
      .map((a) => `<b>${esc(a.name)}</b>`)
      .join(
        ' vs ',
      )} (baseline A = ${esc(ex.baseline)}); seeds ${esc(ex.seeds.join(', '))} (paired: both arms of a seed see the same environment seeds); ${summary.progress.done} of ${plural(summary.progress.total, 'run')} done.</p>`,
  );
  parts.push(`<p class="meta">Budget: ${budgetText(summary)}.</p>`);
  if (ex.command.length) parts.push(`<p class="meta">Command: <code>coordrl ${esc(shellLine(ex.command))}</code></p>`);
  if (summary.progress.missing.length) {
    parts.push(
      `<p class="warn">This experiment is not finished: ${summary.progress.missing.length} of ${plural(summary.progress.total, 'run')} ${summary.progress.missing.length === 1 ? 'has' : 'have'} no final score yet (listed under <a href="#missing">Missing runs</a>). The numbers below use the finished runs only.</p>`,
    );
  }
  parts.push('<h2>Verdict</h2>');
  for (const v of summary.verdicts) {
    const sig = summary.comparisons.some((c) => c.verdict === v && c.significant);
    parts.push(`<p class="verdict${sig ? ' sig' : ''}">${esc(v)}</p>`);
  }
  parts.push(`<p class="note">${esc(summary.scores.note)} ${esc(summary.normalization.note)}</p>`);
  parts.push(
    `<p class="note">Intervals: 95% percentile intervals from ${summary.bootstrap.reps} stratified bootstrap resamples (runs resampled within each game), seed ${summary.bootstrap.seed}. A difference is called significant only if the IQM-difference interval excludes 0 and the P(B &gt; A) interval excludes 0.5.</p>`,
  );

  parts.push('<h2>Aggregate over games</h2>');
  const agg = summary.aggregate;
  if (!agg) {
    parts.push('<p class="missing">No aggregate yet: no game has a final score for every arm.</p>');
  } else {
    if (agg.excluded.length) {
      parts.push(
        `<p class="warn">Left out of the aggregate: ${agg.excluded.map((e) => `${esc(e.game)} (${esc(e.reason)})`).join('; ')}.</p>`,
      );
    }
    const all = agg.arms.flatMap((a) => [a.iqm, a.mean, a.median].flatMap((i) => [i.lo, i.hi]));
    const d = decimalsFor(all, kind);
    parts.push(
      table(
        ['arm', 'runs', 'IQM', 'median', 'mean'],
        agg.arms.map((a) => [
          esc(a.arm),
          String(a.runs),
          esc(fmtInterval(a.iqm, d)),
          esc(fmtInterval(a.median, d)),
          esc(fmtInterval(a.mean, d)),
        ]),
        [false, true, true, true, true],
      ),
    );
    parts.push(`<p class="note">Scores: ${scoreUnit(kind, true)}. Games: ${agg.games.map(esc).join(', ')}.</p>`);
    parts.push(figure(svgs, 'aggregate'));
    parts.push('<h3>Probability of improvement and differences</h3>');
    parts.push(
      table(
        ['B vs A', 'games B better / worse / tied', 'IQM(B) - IQM(A)', 'mean(B) - mean(A)', 'P(B > A)', 'significant'],
        summary.comparisons.map((c) => {
          const dd = decimalsFor([c.iqmDiff.lo, c.iqmDiff.hi, c.meanDiff.lo, c.meanDiff.hi], kind);
          return [
            `${esc(c.b)} vs ${esc(c.a)}`,
            `${c.gamesBetter} / ${c.gamesWorse} / ${c.gamesTied} of ${c.games}`,
            esc(fmtInterval(c.iqmDiff, dd, true)),
            esc(fmtInterval(c.meanDiff, dd, true)),
            esc(fmtInterval(c.poi, 2)),
            c.significant ? `yes (${esc(c.b)} ${c.direction})` : 'no',
          ];
        }),
        [false, true, true, true, true, false],
      ),
    );
    parts.push(figure(svgs, 'improvement'));
    parts.push('<h3>Performance profile</h3>');
    const scores = summary.games.flatMap((g) => g.arms.flatMap((a) => a.runs.map((r) => r.score)));
    if (scores.length && scores.every((x) => x === scores[0])) {
      parts.push(
        `<p class="note">Every run has the same final score (${esc(fmt(scores[0], 2))}): the profile drops from 1 to 0 there for every arm.</p>`,
      );
    }
    parts.push(figure(svgs, 'profile'));
  }

  parts.push('<h2>Sample efficiency</h2>');
  parts.push(sampleEfficiencySection(summary, svgs));

  parts.push('<h2>Per game</h2>');
  for (const g of summary.games) {
    parts.push(`<h3>${esc(g.env)}</h3>`);
    parts.push(gameTable(g));
    const curves = figure(svgs, `curves-${g.game}`);
    parts.push(curves || '<p class="missing">No learning curve yet (no metrics logged with a finished episode).</p>');
    parts.push(figure(svgs, `runs-${g.game}`));
    const noCurve = summary.runs.filter((r) => r.game === g.game && r.curvePoints === 0 && r.steps !== null);
    if (noCurve.length) {
      parts.push(
        `<p class="missing">No curve for ${noCurve.map((r) => esc(`${r.arm} seed ${r.seed}`)).join(', ')}: no training episode finished in ${noCurve.length === 1 ? 'its' : 'their'} budget.</p>`,
      );
    }
    parts.push(figure(svgs, `final-${g.game}`));
  }

  parts.push('<h2>Runs</h2>');
  parts.push(runsTable(summary.runs));
  parts.push(
    '<p class="note">Steps are agent steps summed over the parallel envs; wall time is training time (evaluation aside), summed over resumes; steps/s = steps / wall time.</p>',
  );

  parts.push('<h2>Arms and configuration</h2>');
  parts.push(
    table(
      ['arm', 'fields set by the arm'],
      ex.arms.map((a) => [esc(a.name), `<code>${esc(JSON.stringify(a.fields))}</code>`]),
    ),
  );
  if (summary.configDiff.length) {
    parts.push('<p class="note">Resolved run configurations that differ between arms (env and seed aside):</p>');
    const names = ex.arms.map((a) => a.name);
    parts.push(
      table(
        ['field', ...names.map(esc)],
        summary.configDiff.map((d) => [
          esc(d.field),
          ...names.map((n) => `<code>${esc(JSON.stringify(d.values[n] ?? null))}</code>`),
        ]),
      ),
    );
  } else {
    parts.push('<p class="warn">The arms resolve to the same configuration: this compares seeds only.</p>');
  }

  const shared = Object.entries(summary.hyperparameters.shared);
  if (shared.length) {
    parts.push('<p class="note">Resolved run configuration shared by all arms (env and seed aside):</p>');
    parts.push(
      table(
        ['field', 'value'],
        shared.map(([k, v]) => [esc(k), `<code>${esc(JSON.stringify(v))}</code>`]),
      ),
    );
  }

  parts.push('<h2>Versions</h2>');
  parts.push(versionsSection(summary));

  parts.push('<h2 id="missing">Missing runs</h2>');
  if (summary.progress.missing.length) {
    parts.push(
      table(
        ['run', 'status', 'detail'],
        summary.progress.missing.map((m) => [
          esc(m.id),
          `<span class="missing">${esc(m.status)}</span>`,
          esc(m.detail),
        ]),
      ),
    );
    parts.push(
      `<p class="note">Continue with <code>coordrl ab --resume ${esc(ex.dir)}</code>, then <code>coordrl report ${esc(ex.dir)}</code>.</p>`,
    );
  } else {
    parts.push('<p>None: every run has a final score.</p>');
  }
  if (opts.plotsDir) parts.push(`<p class="note">PNG versions of the charts: <code>${esc(opts.plotsDir)}</code>.</p>`);
  parts.push(
    `<p class="meta">Made by coordrl ${esc(PACKAGE_VERSION)} on ${esc(summary.createdAt)}; all numbers are in summary.json beside this page.</p>`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A/B experiment: ${esc(name)}</title>
<style>${CSS}</style>
</head>
<body>
${parts.filter(Boolean).join('\n')}
</body>
</html>
`;
}
