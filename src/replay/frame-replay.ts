// Replay buffer for stacked uint8 frames (Atari DQN): each 84x84 frame is stored once, and the
// stacks are rebuilt from slot indices when sampling.
//
// Observations come per step as (numEnvs, H, W, stack) NHWC uint8 with the newest frame last
// (or (numEnvs, stack, H, W) with layout 'NCHW'); sampled batches use the same layout.
//
// Episode starts. ale-py's AtariVectorEnv fills the stack at reset with zeros and the first frame
// ([0, 0, 0, f0], then [0, 0, f0, f1], ...: checked with ale-py 0.12), so the default padding is
// 'zeros': frames before an episode's first frame are rebuilt as zeros. 'repeat' (the first frame
// repeated, as gymnasium's FrameStackObservation(padding_type='reset') does) is available too.
// Whatever the env does, the rebuilt stacks equal what the env returned: when an observation
// starts a stored history (the first add(), each reset observation), the leading channels that
// equal the padding are not stored and the others are stored as history frames.
//
// Memory: capacity frames of H*W bytes (in chunks of at most 1 GiB, so more than 4 GiB works on
// Node 20), plus 10 bytes per slot (action int32, reward float32, flags, history length), plus one
// zero frame. A slot is used per step and env, plus one per episode end when finalObs is given.
import { ReplayBase, type ReplayBaseOptions, type ReplayBatch } from './replay-base.js';
import { LITTLE_ENDIAN, type ReplaySnapshot } from './snapshot-format.js';

export type FrameLayout = 'NHWC' | 'NCHW';
export type FramePadding = 'zeros' | 'repeat';

export interface FrameReplayOptions extends ReplayBaseOptions {
  /** [height, width] of one frame (default [84, 84]). */
  frameShape?: [number, number];
  /** Frames per observation (default 4). */
  stack?: number;
  /** Layout of observations given to add() and returned by sample() (default 'NHWC'). */
  layout?: FrameLayout;
  /** What the env puts before the first frame of an episode (default 'zeros', like ale-py). */
  padding?: FramePadding;
  /** Largest typed array allocated for frames (default 1 GiB). */
  chunkBytes?: number;
}

export type FrameBatch = ReplayBatch<Uint8Array>;

const DEFAULT_CHUNK_BYTES = 1 << 30;

/** Interleaves four frames (as int32 words: 4 pixels each) into NHWC stacks of 4 channels. */
function interleave4(
  a: Int32Array,
  ao: number,
  b: Int32Array,
  bo: number,
  c: Int32Array,
  co: number,
  d: Int32Array,
  dof: number,
  out: Int32Array,
  oo: number,
  words: number,
): void {
  for (let q = 0; q < words; q++) {
    const A = a[ao + q];
    const B = b[bo + q];
    const C = c[co + q];
    const D = d[dof + q];
    const o = oo + 4 * q;
    out[o] = (A & 0xff) | ((B & 0xff) << 8) | ((C & 0xff) << 16) | (D << 24);
    out[o + 1] = ((A >>> 8) & 0xff) | (B & 0xff00) | ((C << 8) & 0xff0000) | ((D << 16) & 0xff000000);
    out[o + 2] = ((A >>> 16) & 0xff) | ((B >>> 8) & 0xff00) | (C & 0xff0000) | ((D << 8) & 0xff000000);
    out[o + 3] = (A >>> 24) | ((B >>> 16) & 0xff00) | ((C >>> 8) & 0xff0000) | (D & 0xff000000);
  }
}

/**
 * interleave4 for a stack and, at the same time, the stack one step later (channels 1..3 of the
 * first plus frame e): each next word is the obs word shifted down one channel.
 */
function interleave4Pair(
  a: Int32Array,
  ao: number,
  b: Int32Array,
  bo: number,
  c: Int32Array,
  co: number,
  d: Int32Array,
  dof: number,
  e: Int32Array,
  eo: number,
  out: Int32Array,
  oo: number,
  next: Int32Array,
  no: number,
  words: number,
): void {
  for (let q = 0; q < words; q++) {
    const A = a[ao + q];
    const B = b[bo + q];
    const C = c[co + q];
    const D = d[dof + q];
    const E = e[eo + q];
    const o0 = (A & 0xff) | ((B & 0xff) << 8) | ((C & 0xff) << 16) | (D << 24);
    const o1 = ((A >>> 8) & 0xff) | (B & 0xff00) | ((C << 8) & 0xff0000) | ((D << 16) & 0xff000000);
    const o2 = ((A >>> 16) & 0xff) | ((B >>> 8) & 0xff00) | (C & 0xff0000) | ((D << 8) & 0xff000000);
    const o3 = (A >>> 24) | ((B >>> 16) & 0xff00) | ((C >>> 8) & 0xff0000) | (D & 0xff000000);
    const o = oo + 4 * q;
    out[o] = o0;
    out[o + 1] = o1;
    out[o + 2] = o2;
    out[o + 3] = o3;
    const n = no + 4 * q;
    next[n] = (o0 >>> 8) | (E << 24);
    next[n + 1] = (o1 >>> 8) | ((E << 16) & 0xff000000);
    next[n + 2] = (o2 >>> 8) | ((E << 8) & 0xff000000);
    next[n + 3] = (o3 >>> 8) | (E & 0xff000000);
  }
}

export class FrameReplayBuffer extends ReplayBase<Uint8Array> {
  static readonly snapshotKind = 'frame';
  readonly frameShape: [number, number];
  readonly frameSize: number;
  readonly layout: FrameLayout;
  readonly padding: FramePadding;
  private readonly slotsPerChunk: number;
  private readonly chunkBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private readonly chunks32: Int32Array[] = [];
  private readonly zero: Uint8Array;
  private readonly zero32: Int32Array;
  private readonly fast: boolean;
  // per-gather scratch
  private readonly srcChunk: Int32Array; // chunk index per channel, -1 for the zero frame
  private readonly srcOff: Int32Array;
  private out32: Int32Array | null = null;
  private out32Of: Uint8Array | null = null;
  private nextOut32: Int32Array | null = null;
  private nextOut32Of: Uint8Array | null = null;
  private tmpObs: Uint8Array | null = null;

  constructor(opts: FrameReplayOptions) {
    const frameShape = opts.frameShape ?? [84, 84];
    const stack = opts.stack ?? 4;
    const frameSize = frameShape[0] * frameShape[1];
    if (!Number.isInteger(frameSize) || frameSize < 1) throw new RangeError('frameShape must be two positive integers');
    super(opts, stack, frameSize * stack);
    this.frameShape = [frameShape[0], frameShape[1]];
    this.frameSize = frameSize;
    this.layout = opts.layout ?? 'NHWC';
    this.padding = opts.padding ?? 'zeros';
    if (this.layout !== 'NHWC' && this.layout !== 'NCHW') throw new RangeError(`layout must be NHWC or NCHW`);
    if (this.padding !== 'zeros' && this.padding !== 'repeat') throw new RangeError(`padding must be zeros or repeat`);
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.chunkBytes = chunkBytes;
    this.slotsPerChunk = Math.max(1, Math.floor(chunkBytes / frameSize));
    this.fast = LITTLE_ENDIAN && stack === 4 && frameSize % 4 === 0 && this.layout === 'NHWC';
    const total = this.capacity;
    for (let start = 0; start < total; start += this.slotsPerChunk) {
      const slots = Math.min(this.slotsPerChunk, total - start);
      const chunk = new Uint8Array(slots * frameSize);
      this.chunks.push(chunk);
      if (this.fast) this.chunks32.push(new Int32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength >> 2));
    }
    this.zero = new Uint8Array(frameSize);
    this.zero32 = new Int32Array(this.zero.buffer, 0, frameSize >> 2);
    this.srcChunk = new Int32Array(stack);
    this.srcOff = new Int32Array(stack);
  }

  protected dataBytes(): number {
    return this.chunks.reduce((a, c) => a + c.byteLength, 0) + this.zero.byteLength;
  }

  /** Bytes per stored slot (frame + per-transition fields). */
  bytesPerSlot(): number {
    return this.frameSize + 10;
  }

  protected allocObs(length: number): Uint8Array {
    return new Uint8Array(length);
  }

  protected isObs(a: unknown): a is Uint8Array {
    return a instanceof Uint8Array;
  }

  private chunkOf(g: number): number {
    return Math.floor(g / this.slotsPerChunk);
  }

  /** The frame stored at slot g (a view). */
  frameAt(g: number): Uint8Array {
    const c = this.chunkOf(g);
    const off = (g - c * this.slotsPerChunk) * this.frameSize;
    return this.chunks[c].subarray(off, off + this.frameSize);
  }

  /** Offset of element (channel k, pixel 0) and the stride between pixels, in one observation. */
  private chan(k: number): [number, number] {
    return this.layout === 'NHWC' ? [k, this.stack] : [k * this.frameSize, 1];
  }

  private copyChannelIn(dst: Uint8Array, src: Uint8Array, off: number, k: number): void {
    const F = this.frameSize;
    if (this.layout === 'NCHW') {
      dst.set(src.subarray(off + k * F, off + (k + 1) * F));
      return;
    }
    const S = this.stack;
    let i = off + k;
    for (let p = 0; p < F; p++, i += S) dst[p] = src[i];
  }

  private channelEquals(frame: Uint8Array, src: Uint8Array, off: number, k: number): boolean {
    const F = this.frameSize;
    const [c0, stride] = this.chan(k);
    let i = off + c0;
    for (let p = 0; p < F; p++, i += stride) if (frame[p] !== src[i]) return false;
    return true;
  }

  private channelsEqual(src: Uint8Array, off: number, k1: number, k2: number): boolean {
    const F = this.frameSize;
    const [a0, stride] = this.chan(k1);
    const [b0] = this.chan(k2);
    let i = off + a0;
    let j = off + b0;
    for (let p = 0; p < F; p++, i += stride, j += stride) if (src[i] !== src[j]) return false;
    return true;
  }

  protected writeNewest(g: number, src: Uint8Array, off: number): void {
    this.copyChannelIn(this.frameAt(g), src, off, this.stack - 1);
  }

  protected writeFresh(e: number, src: Uint8Array, off: number): number {
    const S = this.stack;
    // Leading channels that the padding reproduces need not be stored.
    let z = 0;
    if (this.padding === 'zeros') {
      while (z < S - 1 && this.channelEquals(this.zero, src, off, z)) z++;
    } else {
      while (z < S - 1 && this.channelsEqual(src, off, z + 1, 0)) z++;
    }
    let g = -1;
    for (let k = z; k < S; k++) {
      g = this.claim(e, k - z);
      this.copyChannelIn(this.frameAt(g), src, off, k);
    }
    return g;
  }

  protected matches(g: number, src: Uint8Array, off: number, full: boolean): boolean {
    if (!full) return this.channelEquals(this.frameAt(g), src, off, this.stack - 1);
    const O = this.obsSize;
    this.tmpObs ??= new Uint8Array(O);
    this.out32 = null;
    this.out32Of = null;
    this.gatherInto(g, this.tmpObs, 0, null);
    for (let i = 0; i < O; i++) if (this.tmpObs[i] !== src[off + i]) return false;
    return true;
  }

  protected override beginGather(batch: ReplayBatch<Uint8Array>): void {
    if (!this.fast) return;
    const view = (a: Uint8Array) =>
      a.byteOffset % 4 === 0 ? new Int32Array(a.buffer, a.byteOffset, a.length >> 2) : null;
    if (this.out32Of !== batch.obs) {
      this.out32 = view(batch.obs);
      this.out32Of = batch.obs;
    }
    if (this.nextOut32Of !== batch.nextObs) {
      this.nextOut32 = view(batch.nextObs);
      this.nextOut32Of = batch.nextObs;
    }
  }

  protected override gatherPair(g: number, next: number, batch: ReplayBatch<Uint8Array>, b: number): void {
    const e = Math.floor(g / this.perEnvCapacity);
    if (
      !this.fast ||
      next < 0 ||
      next !== this.nextSlot(g, e) ||
      this.out32 === null ||
      this.nextOut32 === null ||
      this.out32Of !== batch.obs ||
      this.nextOut32Of !== batch.nextObs
    ) {
      super.gatherPair(g, next, batch, b);
      return;
    }
    // The next stack is this one shifted by a frame (its history is this slot's, one longer).
    this.locate(g);
    const sc = this.srcChunk;
    const so = this.srcOff;
    const c32 = this.chunks32;
    const z32 = this.zero32;
    const nc = Math.floor(next / this.slotsPerChunk);
    const words = this.frameSize >> 2;
    const o = (b * this.obsSize) >> 2;
    interleave4Pair(
      sc[0] < 0 ? z32 : c32[sc[0]],
      so[0] >> 2,
      sc[1] < 0 ? z32 : c32[sc[1]],
      so[1] >> 2,
      sc[2] < 0 ? z32 : c32[sc[2]],
      so[2] >> 2,
      sc[3] < 0 ? z32 : c32[sc[3]],
      so[3] >> 2,
      c32[nc],
      ((next - nc * this.slotsPerChunk) * this.frameSize) >> 2,
      this.out32,
      o,
      this.nextOut32,
      o,
      words,
    );
  }

  protected gather(g: number, out: Uint8Array, b: number): void {
    const o32 = out === this.out32Of ? this.out32 : out === this.nextOut32Of ? this.nextOut32 : null;
    this.gatherInto(g, out, b, o32);
  }

  /** Where the frames of the stack at slot g are: srcChunk (-1: zero frame) and srcOff per channel. */
  /** Where the frames of the stack at slot g are: srcChunk (-1: the zero frame), srcOff per channel. */
  private locate(g: number): void {
    const S = this.stack;
    const F = this.frameSize;
    const C = this.perEnvCapacity;
    const e = Math.floor(g / C);
    const a = this.avail[g];
    const spc = this.slotsPerChunk;
    for (let k = 0; k < S; k++) {
      const d = S - 1 - k;
      let slot: number;
      if (d <= a) slot = this.prevSlot(g, e, d);
      else if (this.padding === 'repeat') slot = this.prevSlot(g, e, a);
      else slot = -1;
      if (slot < 0) {
        this.srcChunk[k] = -1;
        this.srcOff[k] = 0;
      } else {
        const c = Math.floor(slot / spc);
        this.srcChunk[k] = c;
        this.srcOff[k] = (slot - c * spc) * F;
      }
    }
  }

  private gatherInto(g: number, out: Uint8Array, b: number, out32: Int32Array | null): void {
    const O = this.obsSize;
    const F = this.frameSize;
    const S = this.stack;
    const base0 = b * O;
    if (g < 0) {
      out.fill(0, base0, base0 + O);
      return;
    }
    this.locate(g);
    const sc = this.srcChunk;
    const so = this.srcOff;
    if (out32 !== null && this.fast) {
      const c32 = this.chunks32;
      const z32 = this.zero32;
      interleave4(
        sc[0] < 0 ? z32 : c32[sc[0]],
        so[0] >> 2,
        sc[1] < 0 ? z32 : c32[sc[1]],
        so[1] >> 2,
        sc[2] < 0 ? z32 : c32[sc[2]],
        so[2] >> 2,
        sc[3] < 0 ? z32 : c32[sc[3]],
        so[3] >> 2,
        out32,
        base0 >> 2,
        F >> 2,
      );
      return;
    }
    if (this.layout === 'NCHW') {
      for (let k = 0; k < S; k++) {
        const src = sc[k] < 0 ? this.zero : this.chunks[sc[k]];
        out.set(src.subarray(so[k], so[k] + F), base0 + k * F);
      }
      return;
    }
    for (let k = 0; k < S; k++) {
      const src = sc[k] < 0 ? this.zero : this.chunks[sc[k]];
      const o = so[k];
      let i = base0 + k;
      for (let p = 0; p < F; p++, i += S) out[i] = src[o + p];
    }
  }

  protected ownConfig(): Record<string, unknown> {
    return {
      frameShape: this.frameShape,
      stack: this.stack,
      layout: this.layout,
      padding: this.padding,
      chunkBytes: this.chunkBytes,
    };
  }

  protected dataViews(): { name: string; view: Uint8Array }[] {
    // The filled slots of env e are e*C .. e*C + filled[e] - 1 (a ring fills from slot 0).
    const out: { name: string; view: Uint8Array }[] = [];
    const C = this.perEnvCapacity;
    const spc = this.slotsPerChunk;
    const F = this.frameSize;
    for (let e = 0; e < this.numEnvs; e++) {
      let g = e * C;
      const end = g + this.filled[e];
      let part = 0;
      while (g < end) {
        const c = Math.floor(g / spc);
        const stop = Math.min(end, (c + 1) * spc);
        const off = (g - c * spc) * F;
        out.push({ name: `frames.env${e}.${part++}`, view: this.chunks[c].subarray(off, off + (stop - g) * F) });
        g = stop;
      }
    }
    return out;
  }

  /** Loads what save() wrote (see ReplayBase.loadAs). */
  static load(dir: string, name = 'replay'): Promise<FrameReplayBuffer> {
    return ReplayBase.loadAs(FrameReplayBuffer, dir, name);
  }

  static deserialize(snap: ReplaySnapshot): FrameReplayBuffer {
    return ReplayBase.deserializeAs(FrameReplayBuffer, snap);
  }
}
