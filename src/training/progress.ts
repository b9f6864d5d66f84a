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

/**
 * Seconds left from an exponential moving average of the step rate, so the ETA does not jump with
 * each slow or fast stretch (cli-progress's own ETA averages the last updates, which jumped from
 * 30 s to 10 min in one run). The weight of a new rate grows with the time it covers (half-life
 * `halfLifeS` seconds of wall time).
 */
export class EtaEstimator {
  private rate: number | null = null;
  private last: { t: number; steps: number } | null = null;

  constructor(private readonly halfLifeS = 30) {}

  /** Records `steps` done at time `t` (seconds); returns the ETA in seconds to `total`, or null. */
  update(t: number, steps: number, total: number): number | null {
    if (this.last && t > this.last.t && steps >= this.last.steps) {
      const dt = t - this.last.t;
      const inst = (steps - this.last.steps) / dt;
      const w = 1 - 0.5 ** (dt / this.halfLifeS);
      this.rate = this.rate === null ? inst : this.rate + w * (inst - this.rate);
    }
    if (!this.last || t > this.last.t) this.last = { t, steps };
    if (!this.rate || this.rate <= 0) return null;
    return Math.max(0, (total - steps) / this.rate);
  }
}

/** 1h02m, 9m30s, 42s. */
export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '-';
  const r = Math.round(s);
  if (r >= 3600) return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
  if (r >= 60) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${r}s`;
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
        format: `${label} {bar} {percentage}% | steps {stepsF}/{totalF} | frames {framesF} | {sps} steps/s | score {score} ({episodes} ep) | ETA {etaSmooth}`,
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

  private readonly eta = new EtaEstimator();

  private payload(v: ProgressValues, total = this.total): Record<string, string | number> {
    this.total = total;
    return {
      etaSmooth: formatEta(this.eta.update(performance.now() / 1000, v.steps, total)),
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
