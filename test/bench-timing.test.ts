import { describe, expect, it } from 'vitest';
import { percentile, timeCalls } from '../src/bench/timing.js';

describe('bench timing', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('picks the nearest-rank and the floor-rank element as the benches always did', () => {
    // nearest: index round(p/100 * (n - 1)); floor: index floor(p/100 * n), at most n - 1.
    expect(percentile(ten, 50, 'nearest')).toBe(6); // round(4.5) = 5
    expect(percentile(ten, 50, 'floor')).toBe(6); // floor(5) = 5
    expect(percentile(ten, 95, 'nearest')).toBe(10); // round(8.55) = 9
    expect(percentile(ten, 95, 'floor')).toBe(10); // floor(9.5) = 9
    expect(percentile(ten, 75, 'nearest')).toBe(8); // round(6.75) = 7
    expect(percentile(ten, 75, 'floor')).toBe(8); // floor(7.5) = 7
    expect(percentile(ten, 25, 'nearest')).toBe(3); // round(2.25) = 2
    expect(percentile(ten, 25, 'floor')).toBe(3); // floor(2.5) = 2
    const four = [10, 20, 30, 40];
    expect(percentile(four, 50, 'nearest')).toBe(30); // round(1.5) = 2
    expect(percentile(four, 40, 'nearest')).toBe(20); // round(1.2) = 1
    expect(percentile(four, 40, 'floor')).toBe(20); // floor(1.6) = 1
    expect(percentile(four, 60, 'nearest')).toBe(30); // round(1.8) = 2
    expect(percentile(four, 60, 'floor')).toBe(30); // floor(2.4) = 2
    expect(percentile(four, 70, 'nearest')).toBe(30); // round(2.1) = 2
    expect(percentile(four, 70, 'floor')).toBe(30); // floor(2.8) = 2
    expect(percentile(four, 100, 'floor')).toBe(40);
    expect(percentile(four, 0, 'nearest')).toBe(10);
    expect(percentile([], 50, 'floor')).toBeNaN();
  });

  it('where the rules differ, each gives its own element', () => {
    const three = [1, 2, 3];
    expect(percentile(three, 50, 'nearest')).toBe(2); // round(1) = 1
    expect(percentile(three, 70, 'nearest')).toBe(2); // round(1.4) = 1
    expect(percentile(three, 70, 'floor')).toBe(3); // floor(2.1) = 2
  });

  it('times every function once per round after the warm-up, sync calls not awaited', async () => {
    const calls: string[] = [];
    let pending = 0;
    const times = await timeCalls(
      [
        () => {
          calls.push('a');
        },
        async () => {
          pending++;
          await new Promise((r) => setTimeout(r, 5));
          pending--;
          calls.push('b');
        },
      ],
      3,
      2,
    );
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(pending).toBe(0);
    expect(times.map((t) => t.length)).toEqual([3, 3]);
    // The async call is timed until it settles; times come back ascending.
    expect(Math.min(...times[1])).toBeGreaterThanOrEqual(4);
    expect(times[1]).toEqual([...times[1]].sort((x, y) => x - y));
  });
});
