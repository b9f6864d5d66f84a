// A synthetic vector env with same-step autoreset whose frames encode (env, frame number), and a
// ground-truth record of every step, to check what a replay buffer returns.
import { Rng } from '../../src/util/rng.js';

export type Obs = Uint8Array | Float32Array;

export interface SimOptions {
  numEnvs: number;
  /** Elements per frame (uint8: >= 4; float: the obs dim). */
  frameSize: number;
  stack: number;
  layout: 'NHWC' | 'NCHW';
  padding: 'zeros' | 'repeat';
  float: boolean;
  maxLen: number;
  /** Probability that an episode end is a truncation (else termination). */
  pTrunc: number;
  /** Probability that the final observation is given at an episode end. */
  pFinal: number;
  seed: number;
}

export interface Rec {
  env: number;
  key: number;
  obs: Obs;
  action: number;
  reward: number;
  term: boolean;
  trunc: boolean;
  hasFinal: boolean;
  /** The true next observation (final obs or next obs), null when the episode ended without final obs. */
  next: Obs | null;
  /** Write index (per env) of the obs's newest frame. */
  w: number;
  episode: Rec[];
  idx: number;
  /** A pseudo-record closing an abandoned episode: not a transition. */
  pseudo?: boolean;
}

export class SynthVecEnv {
  readonly o: SimOptions;
  readonly obsSize: number;
  private readonly rng: Rng;
  private counters: number[];
  private stacks: Obs[][];
  private remaining: number[];
  constructor(o: SimOptions) {
    this.o = o;
    this.obsSize = o.frameSize * o.stack;
    this.rng = new Rng(o.seed);
    this.counters = new Array(o.numEnvs).fill(0);
    this.stacks = [];
    this.remaining = [];
  }

  alloc(n: number): Obs {
    return this.o.float ? new Float32Array(n) : new Uint8Array(n);
  }

  frame(e: number): Obs {
    const id = e * 2 ** 20 + ++this.counters[e];
    const f = this.alloc(this.o.frameSize);
    if (this.o.float) {
      f[0] = id;
      for (let p = 1; p < f.length; p++) f[p] = Math.fround(Math.sin(id * 0.37 + p) * 3);
    } else {
      f[0] = id & 0xff;
      f[1] = (id >>> 8) & 0xff;
      f[2] = (id >>> 16) & 0xff;
      f[3] = (id >>> 24) & 0xff;
      for (let p = 4; p < f.length; p++) f[p] = (Math.imul(id, 2654435761) + Math.imul(p, 40503)) >>> 13;
    }
    return f;
  }

  /** Key of an observation: the id in its newest frame. */
  key(obs: Obs, off = 0): number {
    const { stack: S, frameSize: F, layout } = this.o;
    if (this.o.float) return obs[off + (S - 1) * F];
    const byte = (p: number) => (layout === 'NHWC' ? obs[off + p * S + S - 1] : obs[off + (S - 1) * F + p]);
    return byte(0) + byte(1) * 256 + byte(2) * 65536 + byte(3) * 16777216;
  }

  private encode(frames: Obs[], out: Obs, off: number): void {
    const { stack: S, frameSize: F, layout } = this.o;
    for (let k = 0; k < S; k++) {
      const f = frames[k];
      for (let p = 0; p < F; p++) out[off + (layout === 'NHWC' ? p * S + k : k * F + p)] = f[p];
    }
  }

  private resetEnv(e: number): void {
    const f0 = this.frame(e);
    const pad = this.o.padding === 'zeros' ? this.alloc(this.o.frameSize) : f0;
    this.stacks[e] = [...new Array(this.o.stack - 1).fill(pad), f0];
    this.remaining[e] = 1 + this.rng.int(this.o.maxLen);
  }

  reset(): Obs {
    const out = this.alloc(this.o.numEnvs * this.obsSize);
    for (let e = 0; e < this.o.numEnvs; e++) {
      this.resetEnv(e);
      this.encode(this.stacks[e], out, e * this.obsSize);
    }
    return out;
  }

  /** Restarts one env (as after an env-server crash), returning its fresh reset observation. */
  restart(e: number, obs: Obs): void {
    this.resetEnv(e);
    this.encode(this.stacks[e], obs, e * this.obsSize);
  }

  step(): {
    actions: Int32Array;
    rewards: Float32Array;
    terminated: Uint8Array;
    truncated: Uint8Array;
    nextObs: Obs;
    finalObs: Map<number, Obs>;
    finals: (Obs | null)[];
  } {
    const N = this.o.numEnvs;
    const actions = new Int32Array(N);
    const rewards = new Float32Array(N);
    const terminated = new Uint8Array(N);
    const truncated = new Uint8Array(N);
    const nextObs = this.alloc(N * this.obsSize);
    const finalObs = new Map<number, Obs>();
    const finals: (Obs | null)[] = new Array(N).fill(null);
    const rewardChoices = [-1, 0, 0.5, 1, 2];
    for (let e = 0; e < N; e++) {
      actions[e] = this.rng.int(6);
      rewards[e] = rewardChoices[this.rng.int(rewardChoices.length)];
      this.stacks[e] = [...this.stacks[e].slice(1), this.frame(e)];
      if (--this.remaining[e] === 0) {
        if (this.rng.next() < this.o.pTrunc) truncated[e] = 1;
        else terminated[e] = 1;
        const fin = this.alloc(this.obsSize);
        this.encode(this.stacks[e], fin, 0);
        finals[e] = fin;
        if (this.rng.next() < this.o.pFinal) finalObs.set(e, fin);
        this.resetEnv(e);
      }
      this.encode(this.stacks[e], nextObs, e * this.obsSize);
    }
    return { actions, rewards, terminated, truncated, nextObs, finalObs, finals };
  }
}

/** Ground truth of what was added, and of which transitions a buffer should hold. */
export class Truth {
  readonly byKey = new Map<number, Rec>();
  /** Per env: number of frames written, and the current episode. */
  writes: number[];
  episodes: Rec[][];
  /** Write index of the current obs of each env. */
  curW: number[];
  all: Rec[] = [];
  constructor(
    readonly env: SynthVecEnv,
    readonly perEnv: number,
    readonly nStep: number,
    readonly gamma: number,
  ) {
    const N = env.o.numEnvs;
    this.writes = new Array(N).fill(0);
    this.episodes = Array.from({ length: N }, () => []);
    this.curW = new Array(N).fill(-1);
  }

  private slice(a: Obs, e: number): Obs {
    const O = this.env.obsSize;
    return a.slice(e * O, (e + 1) * O);
  }

  /** A fresh observation (first add, reset obs, restarted env) starts a stored history. */
  startObs(e: number): void {
    this.curW[e] = this.writes[e]++;
  }

  /** Records an add() of one step (obs -> step). */
  record(obs: Obs, step: ReturnType<SynthVecEnv['step']>): void {
    const N = this.env.o.numEnvs;
    for (let e = 0; e < N; e++) {
      if (this.curW[e] < 0) this.startObs(e);
      const term = step.terminated[e] === 1;
      const trunc = step.truncated[e] === 1;
      const hasFinal = step.finalObs.has(e);
      const ep = this.episodes[e];
      const rec: Rec = {
        env: e,
        key: this.env.key(obs, e * this.env.obsSize),
        obs: this.slice(obs, e),
        action: step.actions[e],
        reward: step.rewards[e],
        term,
        trunc,
        hasFinal,
        next: term || trunc ? (hasFinal ? (step.finals[e] as Obs) : null) : this.slice(step.nextObs, e),
        w: this.curW[e],
        episode: ep,
        idx: ep.length,
      };
      ep.push(rec);
      this.all.push(rec);
      if (this.byKey.has(rec.key)) throw new Error(`duplicate key ${rec.key}`);
      this.byKey.set(rec.key, rec);
      if (!term && !trunc) {
        this.curW[e] = this.writes[e]++;
      } else {
        if (hasFinal) this.writes[e]++;
        this.episodes[e] = [];
        this.startObs(e);
      }
    }
  }

  /** The env was restarted: the running episode ends (truncated, nothing to bootstrap from). */
  abandon(e: number, lastObs: Obs): void {
    const ep = this.episodes[e];
    const rec: Rec = {
      env: e,
      key: -1,
      obs: this.slice(lastObs, e),
      action: 0,
      reward: 0,
      term: false,
      trunc: true,
      hasFinal: false,
      next: null,
      w: this.curW[e],
      episode: ep,
      idx: ep.length,
      pseudo: true,
    };
    ep.push(rec);
    this.episodes[e] = [];
    this.startObs(e);
  }

  /** Expected n-step result of a record, or null when its window is not complete yet. */
  expected(r: Rec): { ret: number; disc: number; done: number; next: Obs | null; steps: number } | null {
    let ret = 0;
    let disc = 1;
    for (let k = 0; k < this.nStep; k++) {
      const s = r.episode[r.idx + k];
      if (!s) return null;
      if (s.trunc && !s.term && !s.hasFinal) return { ret, disc, done: 0, next: s.obs, steps: k };
      ret += disc * s.reward;
      disc *= this.gamma;
      if (s.term) return { ret, disc, done: 1, next: s.hasFinal ? s.next : null, steps: k + 1 };
      if (s.trunc) return { ret, disc, done: 0, next: s.next, steps: k + 1 };
      if (k === this.nStep - 1) return { ret, disc, done: 0, next: s.next, steps: this.nStep };
    }
    return null;
  }

  /** Is this record a transition the buffer must be able to sample now? */
  sampleable(r: Rec): boolean {
    if (r.pseudo) return false;
    if (r.trunc && !r.term && !r.hasFinal) return false;
    const S = this.env.o.stack;
    if (r.w < this.writes[r.env] - this.perEnv + S - 1) return false;
    return this.expected(r) !== null;
  }

  expectedSize(): number {
    let n = 0;
    for (const r of this.all) if (this.sampleable(r)) n++;
    return n;
  }
}
