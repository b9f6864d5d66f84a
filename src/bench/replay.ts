// `coordrl bench replay`: memory and speed of the Atari frame replay buffer, on synthetic frames.
import { FrameReplayBuffer } from '../replay/frame-replay.js';
import { Rng } from '../util/rng.js';
import { percentile } from './timing.js';

export interface BenchReplayOptions {
  /** Slots (transitions) in the buffer. */
  capacity: number;
  batch: number;
  numEnvs: number;
  nStep: number;
  /** Timed sample() calls. */
  samples: number;
  seed?: number;
}

export interface BenchReplayResult {
  capacity: number;
  numEnvs: number;
  batch: number;
  nStep: number;
  frameShape: [number, number];
  stack: number;
  /** Bytes allocated per slot: one 84x84 frame plus the per-transition fields. */
  bytesPerTransition: number;
  totalBytes: number;
  /** What storing each stack whole (4 frames per observation) would take. */
  naiveBytesPerTransition: number;
  transitionsHeld: number;
  /** One sample(batch) call: obs and next-obs stacks rebuilt, n-step returns, (ms). */
  sampleMsP50: number;
  sampleMsP95: number;
  sampleMsMean: number;
  /** One add() of a vector step (all envs), (ms). */
  addMsPerStep: number;
  fillSteps: number;
}

/** Fills a buffer with synthetic frames (ALE-like stacks and episode ends) and times it. */
export function benchReplay(opts: BenchReplayOptions): BenchReplayResult {
  const H = 84;
  const W = 84;
  const S = 4;
  const F = H * W;
  const N = opts.numEnvs;
  const O = F * S;
  const rng = new Rng(opts.seed ?? 0);
  const buf = new FrameReplayBuffer({ capacity: opts.capacity, numEnvs: N, nStep: opts.nStep, gamma: 0.99 });

  // A pool of random frames; each step's new frame is one of them.
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 32; i++) {
    const f = new Uint8Array(F);
    for (let p = 0; p < F; p++) f[p] = rng.nextU32() & 0xff;
    pool.push(f);
  }
  // Only the newest channel of a non-reset observation is read by the buffer; the older channels of
  // these synthetic stacks are left stale (not timed anyway). Reset stacks are [0, 0, 0, f0].
  const putFrame = (obs: Uint8Array, e: number, f: Uint8Array, reset: boolean) => {
    const off = e * O;
    if (reset) obs.fill(0, off, off + O);
    for (let p = 0, i = off + S - 1; p < F; p++, i += S) obs[i] = f[p];
  };
  let obs = new Uint8Array(N * O);
  let next = new Uint8Array(N * O);
  const remaining = new Int32Array(N);
  for (let e = 0; e < N; e++) {
    putFrame(obs, e, pool[rng.int(pool.length)], true);
    remaining[e] = 200 + rng.int(1800);
  }
  const actions = new Int32Array(N);
  const rewards = new Float32Array(N);
  const terminated = new Uint8Array(N);
  const truncated = new Uint8Array(N);
  const steps = Math.ceil(opts.capacity / N) + 64;
  let addMs = 0;
  for (let t = 0; t < steps; t++) {
    const finalObs = new Map<number, Uint8Array>();
    for (let e = 0; e < N; e++) {
      actions[e] = rng.int(6);
      rewards[e] = rng.int(3) - 1;
      terminated[e] = 0;
      truncated[e] = 0;
      if (--remaining[e] === 0) {
        terminated[e] = 1;
        const fin = obs.slice(e * O, (e + 1) * O);
        putFrame(fin, 0, pool[rng.int(pool.length)], false);
        finalObs.set(e, fin);
        putFrame(next, e, pool[rng.int(pool.length)], true);
        remaining[e] = 200 + rng.int(1800);
      } else {
        putFrame(next, e, pool[rng.int(pool.length)], false);
      }
    }
    const t0 = performance.now();
    buf.add(obs, actions, rewards, terminated, truncated, next, finalObs);
    addMs += performance.now() - t0;
    [obs, next] = [next, obs];
  }

  const out = buf.allocBatch(opts.batch);
  for (let i = 0; i < 50; i++) buf.sample(opts.batch, rng, out);
  const times: number[] = [];
  for (let i = 0; i < opts.samples; i++) {
    const t0 = performance.now();
    buf.sample(opts.batch, rng, out);
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round = (x: number, d = 4) => Number(x.toFixed(d));
  const totalBytes = buf.bytes();
  return {
    capacity: buf.capacity,
    numEnvs: N,
    batch: opts.batch,
    nStep: opts.nStep,
    frameShape: [H, W],
    stack: S,
    bytesPerTransition: round(totalBytes / buf.capacity, 1),
    totalBytes,
    naiveBytesPerTransition: 2 * O + 10,
    transitionsHeld: buf.size,
    sampleMsP50: round(percentile(sorted, 50, 'floor')),
    sampleMsP95: round(percentile(sorted, 95, 'floor')),
    sampleMsMean: round(times.reduce((a, b) => a + b, 0) / times.length),
    addMsPerStep: round(addMs / steps),
    fillSteps: steps,
  };
}

export function formatBenchReplay(r: BenchReplayResult): string {
  return [
    `replay buffer: ${r.capacity} slots, ${r.numEnvs} envs, 84x84x4 uint8, n-step ${r.nStep}`,
    `  bytesPerTransition ${r.bytesPerTransition} (whole stacks for obs and next obs: ${r.naiveBytesPerTransition})`,
    `  totalBytes         ${r.totalBytes} (${(r.totalBytes / 2 ** 20).toFixed(1)} MiB), ${r.transitionsHeld} transitions held`,
    `  sample(${r.batch})         p50 ${r.sampleMsP50} ms, p95 ${r.sampleMsP95} ms, mean ${r.sampleMsMean} ms`,
    `  add (one step)     ${r.addMsPerStep} ms for ${r.numEnvs} envs`,
  ].join('\n');
}
