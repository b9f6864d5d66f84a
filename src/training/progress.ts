// Progress display for long runs: a live bar on a terminal, silence otherwise (logs and CI).
import cliProgress from 'cli-progress';

export interface ProgressValues {
  steps: number;
  frames: number;
  sps: number;
  score: number;
  episodes: number;
}

function fmtCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;

  constructor(total: number, start: number, label: string, enabled = Boolean(process.stderr.isTTY)) {
    if (!enabled) {
      this.bar = null;
      return;
    }
    this.bar = new cliProgress.SingleBar(
      {
        format: `${label} {bar} {percentage}% | steps {stepsF}/{totalF} | frames {framesF} | {sps} steps/s | score {score} ({episodes} ep) | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
        fps: 4,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(
      total,
      start,
      this.payload({ steps: start, frames: 0, sps: 0, score: Number.NaN, episodes: 0 }, total),
    );
  }

  private total = 0;

  private payload(v: ProgressValues, total = this.total): Record<string, string | number> {
    this.total = total;
    return {
      stepsF: fmtCount(v.steps),
      totalF: fmtCount(total),
      framesF: fmtCount(v.frames),
      sps: Math.round(v.sps),
      score: Number.isNaN(v.score) ? '-' : v.score.toFixed(1),
      episodes: v.episodes,
    };
  }

  private stopped = false;

  update(v: ProgressValues): void {
    if (!this.stopped) this.bar?.update(v.steps, this.payload(v));
  }

  /** Draws the bar a last time and ends its line; later updates and stops do nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }
}
