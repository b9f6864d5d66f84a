import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';

/** Independent xoshiro128** reference in BigInt arithmetic, straight from the paper's C code. */
function referenceXoshiro(s: bigint[], count: number): number[] {
  const M = 0xffffffffn;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  const out: number[] = [];
  const st = [...s];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((st[1] * 5n) & M, 7n) * 9n) & M));
    const t = (st[1] << 9n) & M;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 11n);
  }
  return out;
}

describe('Rng (xoshiro128**)', () => {
  it('matches an independent reference implementation', () => {
    const words: [number, number, number, number] = [1, 2, 3, 4];
    const r = Rng.fromState({ algorithm: 'xoshiro128**', s: words, spare: null });
    const got = Array.from({ length: 1000 }, () => r.nextU32());
    expect(got.slice(0, 2)).toEqual([11520, 0]);
    expect(got).toEqual(referenceXoshiro(words.map(BigInt), 1000));
    const seeded = new Rng(12345);
    const st = seeded.getState();
    const got2 = Array.from({ length: 100 }, () => seeded.nextU32());
    expect(got2).toEqual(referenceXoshiro(st.s.map(BigInt), 100));
  });

  it('is deterministic per seed, and seeds differ (also above 32 bits and as strings)', () => {
    const seq = (seed: number | string) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
    expect(seq(2 ** 40 + 7)).not.toEqual(seq(7));
    expect(seq('run-1')).toEqual(seq('run-1'));
    expect(seq('run-1')).not.toEqual(seq('run-2'));
    expect(seq(0)).not.toEqual(seq(1));
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });

  it('next() is in [0, 1) with mean 1/2; int(n) is in range and roughly uniform', () => {
    const r = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
    for (const n of [1, 2, 3, 7, 10, 1000, 2 ** 31 + 5, 2 ** 32, 2 ** 40 + 3]) {
      for (let i = 0; i < 200; i++) {
        const k = r.int(n);
        expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
      }
    }
    // chi-square over 10 bins, 100k draws: 99.9% quantile of chi2(9) is 27.9
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]++;
    const chi2 = counts.reduce((a, c) => a + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(27.9);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(2.5)).toThrow(RangeError);
  });

  it('normal() has mean 0 and std 1', () => {
    const r = new Rng(3);
    let s = 0;
    let s2 = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(s / n).toBeCloseTo(0, 1);
    expect(Math.sqrt(s2 / n - (s / n) ** 2)).toBeCloseTo(1, 1);
  });

  it('getState/setState continue exactly, including the cached normal, through JSON', () => {
    const r = new Rng(99);
    for (let i = 0; i < 17; i++) r.nextU32();
    r.normal(); // leaves a cached spare
    const saved = JSON.parse(JSON.stringify(r.getState()));
    expect(saved.spare).not.toBeNull();
    const draw = (x: Rng) => [x.normal(), x.next(), x.int(1000), x.normal(), x.normal(), x.nextU32()];
    const a = draw(r);
    const restored = Rng.fromState(saved);
    expect(draw(restored)).toEqual(a);
    const c = r.clone();
    expect(draw(c)).toEqual(draw(r));
    expect(() => r.setState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spare: null })).toThrow();
    expect(() => r.setState({ algorithm: 'mt' as 'xoshiro128**', s: [1, 2, 3, 4], spare: null })).toThrow();
  });

  it('shuffle is a seeded permutation', () => {
    const a = new Rng(5).shuffle(Array.from({ length: 50 }, (_, i) => i));
    const b = new Rng(5).shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
