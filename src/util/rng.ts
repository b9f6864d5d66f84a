// A small seedable PRNG with exactly restorable state, for replay sampling and agents.
//
// Generator: xoshiro128** 1.1 (Blackman & Vigna), 128 bits of state, period 2^128 - 1, 32-bit
// outputs. Seeding: splitmix32 expands the seed into the four state words (never all zero).
// `getState()` captures everything that influences future draws (the four words and the cached
// second Box-Muller normal), so `setState(getState())` continues bit for bit, also across processes
// (the state is plain JSON: integers and one double, which JSON round-trips exactly).

export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four state words, unsigned 32-bit integers. */
  s: [number, number, number, number];
  /** The cached second normal of the last Box-Muller pair, or null. */
  spare: number | null;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** One splitmix32 step: returns [output, next counter]. */
function splitmix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [z >>> 0, next];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /**
   * `seed`: a non-negative integer below 2^53 (both 32-bit halves are used), or a string
   * (hashed, for seeds like 'run-3/env-2').
   */
  constructor(seed: number | string = 0) {
    this.seed(seed);
  }

  /** Re-seeds in place. */
  seed(seed: number | string): void {
    let lo: number;
    let hi: number;
    if (typeof seed === 'string') {
      // FNV-1a over UTF-16 code units, twice with different offsets, for 64 bits.
      lo = 0x811c9dc5;
      hi = 0x01000193 ^ 0x5bd1e995;
      for (let i = 0; i < seed.length; i++) {
        const c = seed.charCodeAt(i);
        lo = Math.imul(lo ^ c, 0x01000193);
        hi = Math.imul(hi ^ c, 0x01000193) ^ (hi >>> 13);
      }
      lo >>>= 0;
      hi >>>= 0;
    } else {
      if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_53) {
        throw new RangeError(`Rng seed must be an integer in [0, 2^53), got ${seed}`);
      }
      lo = seed >>> 0;
      hi = Math.floor(seed / TWO_POW_32) >>> 0;
    }
    // Mix the high half into the counter so that seeds differing only above bit 32 differ.
    const [h, c] = splitmix32(hi ^ 0x6a09e667);
    let x = (c ^ h ^ lo) | 0;
    const w: number[] = [];
    for (let i = 0; i < 4; i++) {
      let out: number;
      [out, x] = splitmix32(x);
      w.push(out);
    }
    if ((w[0] | w[1] | w[2] | w[3]) === 0) w[0] = 1;
    [this.s0, this.s1, this.s2, this.s3] = w;
    this.spare = null;
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = rotl(n3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits (two 32-bit draws). */
  next(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n a positive integer <= 2^53. */
  int(n: number): number {
    if (!(n > 0) || !Number.isInteger(n) || n > TWO_POW_53) {
      throw new RangeError(`Rng.int(n) needs an integer 0 < n <= 2^53, got ${n}`);
    }
    if (n <= TWO_POW_32) {
      // Largest multiple of n that fits in 2^32: accept below it.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const x = (this.nextU32() >>> 11) * TWO_POW_32 + this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller; the second value of each pair is cached in the state). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spare = r * Math.sin(theta);
    return mean + std * r * Math.cos(theta);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  getState(): RngState {
    return {
      algorithm: 'xoshiro128**',
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
      spare: this.spare,
    };
  }

  setState(state: RngState): void {
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new Error(`Rng.setState: not an xoshiro128** state: ${JSON.stringify(state)}`);
    }
    for (const w of state.s) {
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) throw new Error(`Rng.setState: bad state word ${w}`);
    }
    if ((state.s[0] | state.s[1] | state.s[2] | state.s[3]) === 0) throw new Error('Rng.setState: all-zero state');
    if (state.spare !== null && typeof state.spare !== 'number') throw new Error('Rng.setState: bad spare');
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((w) => w | 0);
    this.spare = state.spare;
  }

  /** An independent copy with the same state. */
  clone(): Rng {
    const r = new Rng(0);
    r.setState(this.getState());
    return r;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }
}
