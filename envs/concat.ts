// A VecEnv made of several VecEnvs (env groups, possibly on several servers or machines), stepped
// together: actions are split, the parts step concurrently, results are concatenated in order.
import type { ObsArray, ResetResult, StepResult, VecEnv } from './types.js';

function concatTyped<T extends ObsArray | Float32Array | Uint8Array | Int32Array>(parts: T[], total: number): T {
  if (parts.length === 1) return parts[0];
  const Ctor = parts[0].constructor as new (n: number) => T;
  const out = new Ctor(total);
  let off = 0;
  for (const p of parts) {
    out.set(p as never, off);
    off += p.length;
  }
  return out;
}

export class ConcatVecEnv implements VecEnv {
  readonly parts: readonly VecEnv[];
  readonly numEnvs: number;
  readonly offsets: readonly number[];

  constructor(parts: VecEnv[]) {
    if (parts.length === 0) throw new RangeError('ConcatVecEnv needs at least one part');
    const a = parts[0];
    for (const p of parts.slice(1)) {
      const same =
        p.observationSpace.dtype === a.observationSpace.dtype &&
        p.observationSpace.layout === a.observationSpace.layout &&
        p.observationSpace.shape.join() === a.observationSpace.shape.join() &&
        p.actionSpace.n === a.actionSpace.n;
      if (!same) throw new RangeError(`cannot concatenate ${a.envId} and ${p.envId}: spaces differ`);
    }
    this.parts = parts;
    const offsets: number[] = [];
    let n = 0;
    for (const p of parts) {
      offsets.push(n);
      n += p.numEnvs;
    }
    this.offsets = offsets;
    this.numEnvs = n;
  }

  get observationSpace(): VecEnv['observationSpace'] {
    return this.parts[0].observationSpace;
  }

  get actionSpace(): VecEnv['actionSpace'] {
    return this.parts[0].actionSpace;
  }

  get envId(): string {
    return this.parts[0].envId;
  }

  get kind(): VecEnv['kind'] {
    return this.parts[0].kind;
  }

  get restarts(): number {
    return this.parts.reduce((s, p) => s + p.restarts, 0);
  }

  /** Each part seeds its env slot k (in the whole vector) with seed + k when it knows its offset
   * (parts made by makeVecEnv do). */
  async reset(seed?: number): Promise<ResetResult> {
    const rs = await Promise.all(this.parts.map((p) => p.reset(seed)));
    const lives = rs.every((r) => r.lives)
      ? concatTyped(
          rs.map((r) => r.lives as Int32Array),
          this.numEnvs,
        )
      : null;
    return {
      obs: concatTyped(
        rs.map((r) => r.obs),
        this.numEnvs * this.observationSpace.size,
      ),
      lives,
    };
  }

  step(actions: Int32Array): Promise<StepResult> {
    this.stepAsync(actions);
    return this.stepWait();
  }

  stepAsync(actions: Int32Array): void {
    if (!(actions instanceof Int32Array) || actions.length !== this.numEnvs) {
      throw new TypeError(`actions must be an Int32Array of length ${this.numEnvs}`);
    }
    this.parts.forEach((p, i) => {
      p.stepAsync(actions.subarray(this.offsets[i], this.offsets[i] + p.numEnvs));
    });
  }

  async stepWait(): Promise<StepResult> {
    const rs = await Promise.all(this.parts.map((p) => p.stepWait()));
    if (rs.length === 1) return rs[0];
    const n = this.numEnvs;
    const finalObs = new Map<number, ObsArray>();
    const episodes: StepResult['episodes'] = [];
    const cut: number[] = [];
    rs.forEach((r, i) => {
      const off = this.offsets[i];
      for (const [k, v] of r.finalObs) finalObs.set(k + off, v);
      for (const e of r.episodes) episodes.push({ ...e, env: e.env + off });
      for (const k of r.cutEpisodes) cut.push(k + off);
    });
    return {
      obs: concatTyped(
        rs.map((r) => r.obs),
        n * this.observationSpace.size,
      ),
      rewards: concatTyped(
        rs.map((r) => r.rewards),
        n,
      ),
      terminated: concatTyped(
        rs.map((r) => r.terminated),
        n,
      ),
      truncated: concatTyped(
        rs.map((r) => r.truncated),
        n,
      ),
      lives: rs.every((r) => r.lives)
        ? concatTyped(
            rs.map((r) => r.lives as Int32Array),
            n,
          )
        : null,
      finalObs,
      episodes,
      restarted: rs.some((r) => r.restarted),
      cutEpisodes: cut,
      ...(rs.every((r) => r.envMs !== undefined) ? { envMs: rs.reduce((s, r) => s + (r.envMs ?? 0), 0) } : {}),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.close()));
  }
}
