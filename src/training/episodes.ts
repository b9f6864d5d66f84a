// Episode statistics on raw game scores (never the clipped training rewards).

export interface FinishedEpisode {
  score: number;
  length: number;
}

export class EpisodeStats {
  private readonly recent: FinishedEpisode[] = [];
  episodes = 0;
  cutEpisodes = 0;
  best = -Infinity;

  constructor(private readonly window = 100) {}

  add(ep: FinishedEpisode): void {
    this.episodes++;
    this.best = Math.max(this.best, ep.score);
    this.recent.push(ep);
    if (this.recent.length > this.window) this.recent.shift();
  }

  /** Mean raw score of the last `window` episodes, or NaN before the first one ends. */
  meanScore(): number {
    if (this.recent.length === 0) return Number.NaN;
    return this.recent.reduce((a, e) => a + e.score, 0) / this.recent.length;
  }

  meanLength(): number {
    if (this.recent.length === 0) return Number.NaN;
    return this.recent.reduce((a, e) => a + e.length, 0) / this.recent.length;
  }

  count(): number {
    return this.recent.length;
  }

  toJSON(): { recent: FinishedEpisode[]; episodes: number; cutEpisodes: number; best: number } {
    return { recent: [...this.recent], episodes: this.episodes, cutEpisodes: this.cutEpisodes, best: this.best };
  }

  static fromJSON(
    v: { recent: FinishedEpisode[]; episodes: number; cutEpisodes: number; best: number },
    window = 100,
  ): EpisodeStats {
    const s = new EpisodeStats(window);
    s.recent.push(...v.recent.slice(-window));
    s.episodes = v.episodes;
    s.cutEpisodes = v.cutEpisodes;
    s.best = v.best ?? -Infinity;
    return s;
  }
}
