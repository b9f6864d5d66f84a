// The progress bar's ETA (issue 23): an exponential moving average of the step rate, so one slow
// or fast stretch moves it gradually instead of making it jump.
import { describe, expect, it } from 'vitest';
import { EtaEstimator, formatEta } from '../src/training/progress.js';

describe('ETA', () => {
  it('is the remaining steps over the rate at a steady rate', () => {
    const e = new EtaEstimator();
    expect(e.update(0, 0, 1000)).toBeNull();
    expect(e.update(1, 10, 1000)).toBeCloseTo(99, 6);
    expect(e.update(2, 20, 1000)).toBeCloseTo(98, 6);
  });

  it('moves gradually after a stall instead of jumping', () => {
    const e = new EtaEstimator(30);
    for (let t = 1; t <= 60; t++) e.update(t, 10 * t, 10_000); // 10 steps/s for a minute
    const before = e.update(61, 610, 10_000) as number; // (10,000 - 610) / 10 = 939 s
    expect(before).toBeCloseTo(939, 0);
    // A 2 s stall (a checkpoint save): no steps. cli-progress's short-window ETA would multiply;
    // here the rate drops by about 4.5% (weight 1 - 0.5^(2/30)).
    const stalled = e.update(63, 610, 10_000) as number;
    expect(stalled / before).toBeGreaterThan(1.02);
    expect(stalled / before).toBeLessThan(1.1);
    // The rate really halves for good: within a few half-lives the ETA follows.
    let eta = stalled;
    for (let t = 64; t <= 63 + 120; t++) eta = e.update(t, 610 + 5 * (t - 63), 10_000) as number;
    const remaining = 10_000 - (610 + 5 * 120);
    expect(eta / (remaining / 5)).toBeGreaterThan(0.9);
  });

  it('formats hours, minutes and seconds', () => {
    expect(formatEta(null)).toBe('-');
    expect(formatEta(42.4)).toBe('42s');
    expect(formatEta(570)).toBe('9m30s');
    expect(formatEta(3720)).toBe('1h02m');
  });
});
