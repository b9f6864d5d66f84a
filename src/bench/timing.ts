// The benchmarks' measuring tools, one of each: a percentile and a timer of calls.

/**
 * Which element of n ascending values a percentile p (0..100) picks:
 * - 'nearest': index round(p/100 * (n - 1)): bench nn, bench transport;
 * - 'floor': index floor(p/100 * n), at most n - 1: bench env's round trips, bench replay, the
 *   step profile's round trip.
 * Both rules are kept so that every benchmark reports what it reported before (and what docs
 * quote); they differ by at most one element.
 */
export type PercentileRank = 'nearest' | 'floor';

/** The p-th percentile (p in 0..100) of ascending `sorted` by the `rank` rule; NaN when empty. */
export function percentile(sorted: readonly number[], p: number, rank: PercentileRank): number {
  if (sorted.length === 0) return Number.NaN;
  const n = sorted.length;
  const i = rank === 'nearest' ? Math.round((p / 100) * (n - 1)) : Math.floor((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, i))];
}

/**
 * Wall time of calls, in milliseconds: `warmup` untimed rounds, then `iters` timed rounds in each
 * of which every function is called once, in order (so a shared machine's load falls on all of
 * them alike). Returns each function's times, ascending. A call that returns a promise is timed
 * until it settles; a synchronous one is not awaited (no microtask tick inside its time).
 */
export async function timeCalls(fns: readonly (() => unknown)[], iters: number, warmup: number): Promise<number[][]> {
  for (let i = 0; i < warmup; i++) {
    for (const f of fns) {
      const r = f();
      if (r instanceof Promise) await r;
    }
  }
  const times = fns.map(() => [] as number[]);
  for (let i = 0; i < iters; i++) {
    for (let k = 0; k < fns.length; k++) {
      const t = performance.now();
      const r = fns[k]();
      if (r instanceof Promise) await r;
      times[k].push(performance.now() - t);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b));
}
