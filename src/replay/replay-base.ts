// The bookkeeping shared by the frame replay (Atari, uint8 frame stacks) and the vector replay
// (CartPole-like float observations): one ring of slots per env, transitions, episode ends,
// n-step returns and uniform sampling. Subclasses store the observation data.
//
// Slots. Each env has a ring of `perEnvCapacity` slots; a slot holds one "frame" (for the frame
// replay: the newest 84x84 frame of an observation stack; for the vector replay: a whole
// observation). The observation at slot j is rebuilt from slots j - avail[j] .. j (avail < stack).
// A slot whose observation an action was taken from (ACTED) carries that action, the reward, and
// the terminated/truncated flags of the step; its next observation is at slot j + 1 unless the
// episode ended without a stored final observation (NO_NEXT).
//
// Vector-env semantics (same-step autoreset): when env i's episode ends at step t, nextObs[i] at t
// is already the first observation of the next episode; the true final observation may come in
// `finalObs`. The reset observation is stored as the start of a new episode and never as the
// next observation of the ended one, so no autoreset step is ever a transition.
//
// Episode ends:
//  - terminated, with or without finalObs: a transition with done = 1 (its next observation is
//    masked; without finalObs, nextObs is returned as zeros).
//  - truncated with finalObs: a transition with done = 0 that bootstraps from the final obs.
//  - truncated without finalObs: the step cannot be a transition (nothing to bootstrap from), so
//    it is dropped; n-step returns of earlier steps stop before it and bootstrap from its
//    observation (which is stored), with the discount of the steps actually used.
import path from 'node:path';
import type { Rng } from '../util/rng.js';
import {
  checkHeader,
  LITTLE_ENDIAN,
  REPLAY_FORMAT,
  REPLAY_FORMAT_VERSION,
  type ReplayHeader,
  type ReplayKind,
  type ReplaySnapshot,
} from './snapshot-format.js';
import { readReplayBlobsInto, readReplayHeader, writeReplaySnapshot } from './snapshot-io.js';

export const FLAG_VALID = 1; // can be sampled as the first step of a transition
export const FLAG_ACTED = 2; // an action was taken from this slot's observation
export const FLAG_TERM = 4;
export const FLAG_TRUNC = 8;
export const FLAG_NO_NEXT = 16; // the episode ended here and its final observation is not stored

export interface ReplayBaseOptions {
  /** Total number of slots (frames) over all envs; each env gets ceil(capacity / numEnvs). */
  capacity: number;
  numEnvs: number;
  /** n of n-step returns (default 1). */
  nStep?: number;
  /** Discount used for n-step returns and returned in `discounts` (default 0.99). */
  gamma?: number;
  /**
   * Check at every add() that obs[i] continues the nextObs given for env i at the previous add()
   * (compares the newest frame; default true). A mismatch throws: declare intended breaks with
   * `markDiscontinuity()`.
   */
  checkContinuity?: boolean;
}

/** A batch of transitions. Row b of each array belongs to the same transition. */
export interface ReplayBatch<T extends Uint8Array | Float32Array> {
  /** (B, ...obsShape) observations, exactly as the env returned them. */
  obs: T;
  actions: Int32Array;
  /** n-step discounted return: sum_k gamma^k r_{t+k} over the steps used (one step: r_t). */
  rewards: Float32Array;
  /** Observation to bootstrap from (zeros when done = 1 and the final observation was not given). */
  nextObs: T;
  /** 1 when the episode terminated within the steps used (truncation is not done: it bootstraps). */
  dones: Float32Array;
  /** gamma^(steps used): the target is rewards + discounts * (1 - dones) * V(nextObs). */
  discounts: Float32Array;
  /** Steps used for the return (1..nStep). */
  steps: Int32Array;
  /** The global slot index of each transition (env = floor(index / perEnvCapacity)). */
  indices: Int32Array;
}

type Flags = ArrayLike<number | boolean>;

/** One vector-env step, for add(step). */
export interface ReplayStep<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  /** (numEnvs, ...obsShape): the observations the actions were taken from. */
  obs: T;
  actions: ArrayLike<number>;
  rewards: ArrayLike<number>;
  terminated: Flags;
  truncated: Flags;
  /** (numEnvs, ...obsShape) as returned by the step: reset observations for envs that ended. */
  nextObs: T;
  /** True last observations of the envs whose episode ended at this step, when known. */
  finalObs?: Map<number, T> | null;
}

/**
 * What the shared load() and deserialize() need of a buffer class: the kind of snapshot it reads
 * (checked before the header's config is trusted to build it) and its constructor.
 */
export interface ReplayClass<B> {
  readonly snapshotKind: ReplayKind;
  new (config: never): B;
}

type AnyReplay = ReplayBase<Uint8Array> | ReplayBase<Float32Array>;

function bytesOf(a: Int32Array | Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export abstract class ReplayBase<T extends Uint8Array | Float32Array> {
  readonly numEnvs: number;
  readonly perEnvCapacity: number;
  readonly stack: number;
  readonly nStep: number;
  readonly gamma: number;
  readonly checkContinuity: boolean;
  /** Elements of one env's observation. */
  readonly obsSize: number;

  protected readonly actions: Int32Array;
  protected readonly rewards: Float32Array;
  protected readonly flags: Uint8Array;
  protected readonly avail: Uint8Array;
  protected readonly head: Int32Array;
  protected readonly filled: Int32Array;
  protected readonly cur: Int32Array;
  protected readonly needsCheck: Uint8Array;
  protected validCount = 0;
  protected totalFilled = 0;

  // n-step scratch results
  private nsReward = 0;
  private nsDiscount = 1;
  private nsDone = 0;
  private nsNext = -1;
  private nsSteps = 0;

  protected constructor(opts: ReplayBaseOptions, stack: number, obsSize: number) {
    const { capacity, numEnvs } = opts;
    const nStep = opts.nStep ?? 1;
    const gamma = opts.gamma ?? 0.99;
    if (!Number.isInteger(numEnvs) || numEnvs < 1) throw new RangeError(`numEnvs must be a positive integer`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer`);
    if (!Number.isInteger(nStep) || nStep < 1 || nStep > 255) throw new RangeError(`nStep must be in 1..255`);
    if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`gamma must be in [0, 1]`);
    if (!Number.isInteger(stack) || stack < 1 || stack > 255) throw new RangeError(`stack must be in 1..255`);
    const perEnv = Math.ceil(capacity / numEnvs);
    const minPerEnv = 2 * stack + nStep + 2;
    if (perEnv < minPerEnv) {
      throw new RangeError(
        `replay capacity ${capacity} gives ${perEnv} slots per env; need at least ${minPerEnv} (2*stack + nStep + 2)`,
      );
    }
    if (numEnvs * perEnv > 2 ** 31 - 1) throw new RangeError('replay capacity too large');
    this.numEnvs = numEnvs;
    this.perEnvCapacity = perEnv;
    this.stack = stack;
    this.nStep = nStep;
    this.gamma = gamma;
    this.checkContinuity = opts.checkContinuity ?? true;
    this.obsSize = obsSize;
    const total = numEnvs * perEnv;
    this.actions = new Int32Array(total);
    this.rewards = new Float32Array(total);
    this.flags = new Uint8Array(total);
    this.avail = new Uint8Array(total);
    this.head = new Int32Array(numEnvs);
    this.filled = new Int32Array(numEnvs);
    this.cur = new Int32Array(numEnvs).fill(-1);
    this.needsCheck = new Uint8Array(numEnvs);
  }

  /** Total slots (frames) allocated. */
  get capacity(): number {
    return this.numEnvs * this.perEnvCapacity;
  }

  /** Number of transitions that can be sampled now. */
  get size(): number {
    if (this.nStep === 1) return this.validCount;
    // Transitions of the running episodes whose n-step window is not complete yet.
    const C = this.perEnvCapacity;
    let pending = 0;
    for (let e = 0; e < this.numEnvs; e++) {
      const c = this.cur[e];
      if (c < 0) continue;
      const base = e * C;
      let s = c - base;
      for (let k = 1; k < this.nStep && k < this.filled[e]; k++) {
        s = s === 0 ? C - 1 : s - 1;
        const f = this.flags[base + s];
        if (!(f & FLAG_ACTED) || f & (FLAG_TERM | FLAG_TRUNC)) break;
        if (f & FLAG_VALID) pending++;
      }
    }
    return this.validCount - pending;
  }

  /** Bytes held by this buffer's arrays. */
  bytes(): number {
    return (
      this.actions.byteLength +
      this.rewards.byteLength +
      this.flags.byteLength +
      this.avail.byteLength +
      this.head.byteLength +
      this.filled.byteLength +
      this.cur.byteLength +
      this.needsCheck.byteLength +
      this.dataBytes()
    );
  }

  /**
   * Declares that the next obs of these envs (all if omitted) need not continue the last nextObs
   * (e.g. the env was restarted). A running episode whose continuation never comes is closed as
   * truncated without a final observation.
   */
  markDiscontinuity(envs?: Iterable<number>): void {
    for (const e of envs ?? Array.from({ length: this.numEnvs }, (_, i) => i)) this.needsCheck[e] = 1;
  }

  // ---- storage, provided by subclasses --------------------------------------------------------

  protected abstract dataBytes(): number;
  /** Stores the newest frame of observation src[off .. off + obsSize) into slot g. */
  protected abstract writeNewest(g: number, src: T, off: number): void;
  /** Stores a whole observation for env e as the start of a stored history; returns its slot. */
  protected abstract writeFresh(e: number, src: T, off: number): number;
  /** Does the stored observation at slot g equal src[off ..]? (`full`: all frames, else newest.) */
  protected abstract matches(g: number, src: T, off: number, full: boolean): boolean;
  /** Writes the observation at slot g (or zeros for g < 0) into out[b * obsSize ..]. */
  protected abstract gather(g: number, out: T, b: number): void;
  protected abstract allocObs(length: number): T;
  protected abstract isObs(a: unknown): a is T;
  /** The subclass's own constructor options (after the shared ones), for the snapshot header. */
  protected abstract ownConfig(): Record<string, unknown>;
  /** Views of the observation data of the filled slots (given `filled`), in a fixed order. */
  protected abstract dataViews(): { name: string; view: Uint8Array }[];

  // ---- slot bookkeeping --------------------------------------------------------------------------

  /** Takes the next slot of env e for a new frame with `avail` frames of history; returns it. */
  protected claim(e: number, avail: number): number {
    const C = this.perEnvCapacity;
    const base = e * C;
    const h = this.head[e];
    // The slot whose history reaches furthest back into the slot about to be overwritten.
    const t = base + ((h + this.stack - 1) % C);
    if (this.flags[t] & FLAG_VALID) {
      this.flags[t] &= ~FLAG_VALID;
      this.validCount--;
    }
    const g = base + h;
    if (this.flags[g] & FLAG_VALID) this.validCount--;
    this.flags[g] = 0;
    this.avail[g] = avail;
    this.actions[g] = 0;
    this.rewards[g] = 0;
    this.head[e] = h + 1 === C ? 0 : h + 1;
    if (this.filled[e] < C) {
      this.filled[e]++;
      this.totalFilled++;
    }
    return g;
  }

  private markValid(g: number): void {
    if (!(this.flags[g] & FLAG_VALID)) {
      this.flags[g] |= FLAG_VALID;
      this.validCount++;
    }
  }

  /** Slot after g in env e's ring. */
  protected nextSlot(g: number, e: number): number {
    const base = e * this.perEnvCapacity;
    return g + 1 - base === this.perEnvCapacity ? base : g + 1;
  }

  /** Slot d steps before g in env e's ring. */
  protected prevSlot(g: number, e: number, d: number): number {
    const C = this.perEnvCapacity;
    const base = e * C;
    let j = g - base - d;
    if (j < 0) j += C;
    return base + j;
  }

  /**
   * Records one vector-env step. obs/nextObs: (numEnvs, ...obsShape); actions, rewards,
   * terminated, truncated: one entry per env; finalObs: for envs whose episode ended at this step,
   * their true last observation (one env's observation each), when the env provides it.
   */
  add(step: ReplayStep<T>): void;
  add(
    obs: T,
    actions: ArrayLike<number>,
    rewards: ArrayLike<number>,
    terminated: Flags,
    truncated: Flags,
    nextObs: T,
    finalObs?: Map<number, T> | null,
  ): void;
  add(
    obsOrStep: T | ReplayStep<T>,
    actions?: ArrayLike<number>,
    rewards?: ArrayLike<number>,
    terminated?: Flags,
    truncated?: Flags,
    nextObs?: T,
    finalObs?: Map<number, T> | null,
  ): void {
    if (!ArrayBuffer.isView(obsOrStep)) {
      const s = obsOrStep as ReplayStep<T>;
      this.addStep(s.obs, s.actions, s.rewards, s.terminated, s.truncated, s.nextObs, s.finalObs);
    } else {
      this.addStep(obsOrStep, actions!, rewards!, terminated!, truncated!, nextObs!, finalObs);
    }
  }

  private addStep(
    obs: T,
    actions: ArrayLike<number>,
    rewards: ArrayLike<number>,
    terminated: Flags,
    truncated: Flags,
    nextObs: T,
    finalObs?: Map<number, T> | null,
  ): void {
    if (!this.isObs(obs) || !this.isObs(nextObs)) {
      throw new TypeError(
        `replay add: observations must be ${this.kind() === 'frame' ? 'Uint8Array' : 'Float32Array'}`,
      );
    }
    const N = this.numEnvs;
    const O = this.obsSize;
    if (obs.length !== N * O) throw new RangeError(`replay add: obs has ${obs.length} elements, expected ${N * O}`);
    if (nextObs.length !== N * O) {
      throw new RangeError(`replay add: nextObs has ${nextObs.length} elements, expected ${N * O}`);
    }
    if (actions.length !== N || rewards.length !== N || terminated.length !== N || truncated.length !== N) {
      throw new RangeError(`replay add: actions, rewards, terminated and truncated need ${N} entries each`);
    }
    const S = this.stack;
    for (let e = 0; e < N; e++) {
      const off = e * O;
      let c = this.cur[e];
      if (c < 0) {
        c = this.writeFresh(e, obs, off);
      } else if (this.needsCheck[e]) {
        if (!this.matches(c, obs, off, true)) {
          this.abandon(c);
          c = this.writeFresh(e, obs, off);
        }
      } else if (this.checkContinuity && !this.matches(c, obs, off, false)) {
        throw new Error(
          `replay add: obs of env ${e} does not continue the nextObs given for env ${e} at the previous add() ` +
            '(same-step autoreset expected; call markDiscontinuity() if the env was restarted)',
        );
      }
      this.needsCheck[e] = 0;
      const term = Boolean(terminated[e]);
      const trunc = Boolean(truncated[e]);
      this.actions[c] = actions[e];
      this.rewards[c] = rewards[e];
      this.flags[c] |= FLAG_ACTED | (term ? FLAG_TERM : 0) | (trunc ? FLAG_TRUNC : 0);
      const nextAvail = Math.min(this.avail[c] + 1, S - 1);
      if (!term && !trunc) {
        const n = this.claim(e, nextAvail);
        this.writeNewest(n, nextObs, off);
        this.markValid(c);
        this.cur[e] = n;
        continue;
      }
      const fin = finalObs?.get(e);
      if (fin) {
        if (fin.length !== O) {
          throw new RangeError(`replay add: finalObs for env ${e} has ${fin.length} elements, expected ${O}`);
        }
        const n = this.claim(e, nextAvail);
        this.writeNewest(n, fin, 0);
        this.markValid(c);
      } else {
        this.flags[c] |= FLAG_NO_NEXT;
        if (term) this.markValid(c);
      }
      this.cur[e] = this.writeFresh(e, nextObs, off);
    }
  }

  /** Closes a running episode whose continuation will not come: truncated, nothing to bootstrap. */
  private abandon(c: number): void {
    this.flags[c] |= FLAG_ACTED | FLAG_TRUNC | FLAG_NO_NEXT;
  }

  /**
   * n-step return of the transition starting at slot g (valid); false when its window is not
   * complete yet (the episode is still running and fewer than n steps follow).
   */
  private nstep(g: number): boolean {
    const C = this.perEnvCapacity;
    const e = Math.floor(g / C);
    const base = e * C;
    const j = g - base;
    const gamma = this.gamma;
    let ret = 0;
    let disc = 1;
    for (let k = 0; k < this.nStep; k++) {
      const s = base + ((j + k) % C);
      const f = this.flags[s];
      if (!(f & FLAG_ACTED)) return false;
      if ((f & (FLAG_TRUNC | FLAG_NO_NEXT | FLAG_TERM)) === (FLAG_TRUNC | FLAG_NO_NEXT)) {
        // Truncated without a final observation: stop before this step (k > 0, since such a slot is
        // never valid) and bootstrap from its observation.
        this.setNs(ret, disc, 0, s, k);
        return true;
      }
      ret += disc * this.rewards[s];
      disc *= gamma;
      if (f & FLAG_TERM) {
        this.setNs(ret, disc, 1, f & FLAG_NO_NEXT ? -1 : base + ((j + k + 1) % C), k + 1);
        return true;
      }
      if (f & FLAG_TRUNC) {
        this.setNs(ret, disc, 0, base + ((j + k + 1) % C), k + 1);
        return true;
      }
    }
    this.setNs(ret, disc, 0, base + ((j + this.nStep) % C), this.nStep);
    return true;
  }

  private setNs(ret: number, disc: number, done: number, next: number, steps: number): void {
    this.nsReward = ret;
    this.nsDiscount = disc;
    this.nsDone = done;
    this.nsNext = next;
    this.nsSteps = steps;
  }

  /** Allocates the arrays of a batch (reusable through `sample(..., out)`). */
  allocBatch(batchSize: number): ReplayBatch<T> {
    return {
      obs: this.allocObs(batchSize * this.obsSize),
      actions: new Int32Array(batchSize),
      rewards: new Float32Array(batchSize),
      nextObs: this.allocObs(batchSize * this.obsSize),
      dones: new Float32Array(batchSize),
      discounts: new Float32Array(batchSize),
      steps: new Int32Array(batchSize),
      indices: new Int32Array(batchSize),
    };
  }

  /** Picks a valid transition uniformly at random; sets the n-step scratch; returns its slot. */
  private pick(rng: Rng): number {
    const C = this.perEnvCapacity;
    const N = this.numEnvs;
    const maxTries = 1000 + 100 * this.totalFilled;
    for (let tries = 0; tries < maxTries; tries++) {
      let r = rng.int(this.totalFilled);
      let e = 0;
      while (e < N - 1 && r >= this.filled[e]) {
        r -= this.filled[e];
        e++;
      }
      const g = e * C + r;
      if (!(this.flags[g] & FLAG_VALID)) continue;
      if (!this.nstep(g)) continue;
      return g;
    }
    throw new Error('replay sample: no valid transition found (buffer too small or only incomplete n-step windows)');
  }

  /**
   * Samples `batchSize` transitions uniformly (with replacement) using `rng`. Pass `out` (from
   * allocBatch) to reuse arrays. Deterministic given the rng state and the buffer contents.
   */
  sample(batchSize: number, rng: Rng, out?: ReplayBatch<T>): ReplayBatch<T> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
    if (this.size === 0) throw new Error('replay sample: the buffer holds no complete transition yet');
    const batch = out ?? this.allocBatch(batchSize);
    if (batch.actions.length < batchSize || batch.obs.length < batchSize * this.obsSize) {
      throw new RangeError('replay sample: out batch is smaller than batchSize');
    }
    this.beginGather(batch);
    for (let b = 0; b < batchSize; b++) {
      const g = this.pick(rng);
      batch.indices[b] = g;
      batch.actions[b] = this.actions[g];
      batch.rewards[b] = this.nsReward;
      batch.discounts[b] = this.nsDiscount;
      batch.dones[b] = this.nsDone;
      batch.steps[b] = this.nsSteps;
      this.gatherPair(g, this.nsNext, batch, b);
    }
    return batch;
  }

  /** Writes row b of a batch: the observation at slot g and the one at `next` (< 0: zeros). */
  protected gatherPair(g: number, next: number, batch: ReplayBatch<T>, b: number): void {
    this.gather(g, batch.obs, b);
    this.gather(next, batch.nextObs, b);
  }

  /** Hook before a batch is gathered (e.g. to make aligned views of the output). */
  protected beginGather(_batch: ReplayBatch<T>): void {}

  /** The observation stored at slot g (for tests and debugging). */
  observationAt(g: number): T {
    const out = this.allocObs(this.obsSize);
    this.beginGather({ obs: out, nextObs: out } as ReplayBatch<T>);
    this.gather(g, out, 0);
    return out;
  }

  // ---- serialization -------------------------------------------------------------------------------

  /** The kind of snapshot this buffer writes: its class's snapshotKind. */
  protected kind(): ReplayKind {
    return (this.constructor as unknown as ReplayClass<this>).snapshotKind;
  }

  /** The options that rebuild this buffer (its constructor's), for the snapshot header. */
  private configJson(): Record<string, unknown> {
    return {
      capacity: this.capacity,
      numEnvs: this.numEnvs,
      nStep: this.nStep,
      gamma: this.gamma,
      checkContinuity: this.checkContinuity,
      ...this.ownConfig(),
    };
  }

  private views(): { name: string; view: Uint8Array }[] {
    return [
      { name: 'actions', view: bytesOf(this.actions) },
      { name: 'rewards', view: bytesOf(this.rewards) },
      { name: 'flags', view: bytesOf(this.flags) },
      { name: 'avail', view: bytesOf(this.avail) },
      ...this.dataViews(),
    ];
  }

  /**
   * The whole state as a JSON header and binary blobs. The blobs are views into this buffer (no
   * copy): write them out before the next add(). The rng is not part of it: save it separately.
   */
  serialize(): ReplaySnapshot {
    const views = this.views();
    const header: ReplayHeader = {
      format: REPLAY_FORMAT,
      version: REPLAY_FORMAT_VERSION,
      kind: this.kind(),
      littleEndian: LITTLE_ENDIAN,
      config: this.configJson(),
      state: {
        head: Array.from(this.head),
        filled: Array.from(this.filled),
        cur: Array.from(this.cur),
        validCount: this.validCount,
      },
      blobs: views.map((v) => ({ name: v.name, byteLength: v.view.byteLength })),
    };
    return { header, blobs: views.map((v) => v.view) };
  }

  /**
   * Restores the bookkeeping from a header and returns the views the blobs must be copied into,
   * in header order (for a fresh buffer built with the header's config).
   */
  restoreState(header: ReplayHeader): Uint8Array[] {
    checkHeader(header, this.kind());
    const { head, filled, cur, validCount } = header.state;
    const N = this.numEnvs;
    if (head.length !== N || filled.length !== N || cur.length !== N) throw new Error('replay header: bad state');
    this.head.set(head);
    this.filled.set(filled);
    this.cur.set(cur);
    this.validCount = validCount;
    this.totalFilled = filled.reduce((a, b) => a + b, 0);
    // The envs may or may not continue where they were: check at the next add().
    this.needsCheck.fill(1);
    const views = this.views();
    if (views.length !== header.blobs.length) throw new Error('replay header: blob count mismatch');
    views.forEach((v, i) => {
      const b = header.blobs[i];
      if (b.name !== v.name || b.byteLength !== v.view.byteLength) {
        throw new Error(
          `replay header: blob ${i} is ${b.name} (${b.byteLength} B), expected ${v.name} (${v.view.byteLength} B)`,
        );
      }
    });
    return views.map((v) => v.view);
  }

  /** Copies a snapshot's blobs into this (fresh) buffer. */
  loadSnapshot(snap: ReplaySnapshot): void {
    const targets = this.restoreState(snap.header);
    if (snap.blobs.length !== targets.length) throw new Error('replay snapshot: blob count mismatch');
    targets.forEach((t, i) => {
      if (snap.blobs[i].byteLength !== t.byteLength) throw new Error(`replay snapshot: blob ${i} has the wrong size`);
      t.set(snap.blobs[i]);
    });
  }

  /** Writes `<name>.json` and `<name>.bin` into dir (see snapshot-io.ts). */
  async save(dir: string, name = 'replay'): Promise<void> {
    await writeReplaySnapshot(dir, name, this.serialize());
  }

  /**
   * Loads what save() wrote as a `cls` buffer (each subclass's static load). The envs are checked
   * for continuity at the next add().
   */
  protected static async loadAs<B extends AnyReplay>(cls: ReplayClass<B>, dir: string, name: string): Promise<B> {
    const header = await readReplayHeader(path.resolve(dir), name);
    checkHeader(header, cls.snapshotKind);
    const buf = new cls(header.config as never);
    await readReplayBlobsInto(dir, name, buf.restoreState(header));
    return buf;
  }

  /** A `cls` buffer from serialize()'s snapshot (each subclass's static deserialize). */
  protected static deserializeAs<B extends AnyReplay>(cls: ReplayClass<B>, snap: ReplaySnapshot): B {
    checkHeader(snap.header, cls.snapshotKind);
    const buf = new cls(snap.header.config as never);
    buf.loadSnapshot(snap);
    return buf;
  }
}
