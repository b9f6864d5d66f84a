// Replay buffer for small float observations (CartPole and friends): observations (numEnvs, obsDim)
// Float32. Same vector-env semantics, n-step returns, sampling and snapshot format as the frame
// replay (see replay-base.ts); each observation is stored once (a step stores its next observation,
// an episode end with finalObs one more).
import { ReplayBase, type ReplayBaseOptions } from './replay-base.js';
import type { ReplaySnapshot } from './snapshot-format.js';

export interface VectorReplayOptions extends ReplayBaseOptions {
  obsDim: number;
}

export class VectorReplayBuffer extends ReplayBase<Float32Array> {
  static readonly snapshotKind = 'vector';
  readonly obsDim: number;
  private readonly data: Float32Array;
  private readonly dataBits: Int32Array;

  constructor(opts: VectorReplayOptions) {
    if (!Number.isInteger(opts.obsDim) || opts.obsDim < 1) throw new RangeError('obsDim must be a positive integer');
    super(opts, 1, opts.obsDim);
    this.obsDim = opts.obsDim;
    this.data = new Float32Array(this.capacity * this.obsDim);
    this.dataBits = new Int32Array(this.data.buffer);
  }

  protected dataBytes(): number {
    return this.data.byteLength;
  }

  protected allocObs(length: number): Float32Array {
    return new Float32Array(length);
  }

  protected isObs(a: unknown): a is Float32Array {
    return a instanceof Float32Array;
  }

  protected writeNewest(g: number, src: Float32Array, off: number): void {
    const D = this.obsDim;
    this.data.set(src.subarray(off, off + D), g * D);
  }

  protected writeFresh(e: number, src: Float32Array, off: number): number {
    const g = this.claim(e, 0);
    this.writeNewest(g, src, off);
    return g;
  }

  protected matches(g: number, src: Float32Array, off: number, _full: boolean): boolean {
    // Bitwise, so that NaN == NaN and -0 != 0.
    const D = this.obsDim;
    const bits = new Int32Array(src.buffer, src.byteOffset + off * 4, D);
    const o = g * D;
    for (let i = 0; i < D; i++) if (this.dataBits[o + i] !== bits[i]) return false;
    return true;
  }

  protected gather(g: number, out: Float32Array, b: number): void {
    const D = this.obsDim;
    if (g < 0) out.fill(0, b * D, (b + 1) * D);
    else out.set(this.data.subarray(g * D, (g + 1) * D), b * D);
  }

  protected ownConfig(): Record<string, unknown> {
    return {
      obsDim: this.obsDim,
    };
  }

  protected dataViews(): { name: string; view: Uint8Array }[] {
    const C = this.perEnvCapacity;
    const D = this.obsDim;
    const out: { name: string; view: Uint8Array }[] = [];
    for (let e = 0; e < this.numEnvs; e++) {
      const start = e * C * D * 4;
      out.push({ name: `obs.env${e}`, view: new Uint8Array(this.data.buffer, start, this.filled[e] * D * 4) });
    }
    return out;
  }

  /** Loads what save() wrote (see ReplayBase.loadAs). */
  static load(dir: string, name = 'replay'): Promise<VectorReplayBuffer> {
    return ReplayBase.loadAs(VectorReplayBuffer, dir, name);
  }

  static deserialize(snap: ReplaySnapshot): VectorReplayBuffer {
    return ReplayBase.deserializeAs(VectorReplayBuffer, snap);
  }
}
