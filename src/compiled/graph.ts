// A TensorFlow graph built op by op from TypeScript and run as one session call, through the
// project's own addon (native/tfgraph, a thin N-API wrapper over TensorFlow's graph C API).
//
// Why: an eager update of a small network is ~200 tfjs kernels, each a round trip through the
// binding (~20 us), so a 64-64 MLP's DQN step costs ~4.6 ms of overhead for microseconds of
// arithmetic. The same step as one graph is one TF_SessionRun (docs/speed.md has the numbers).
//
// `loadTfGraph()` is null when the addon is not built, fails to load, the active backend is not
// native TensorFlow (its library must already be in the process), or COORDRL_NO_COMPILED=1:
// callers then keep the eager tfjs path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../tf.js';

/** An operation output: [operation index, output index]. */
export type Out = readonly [number, number];
type AttrKind = 'type' | 'int' | 'float' | 'bool' | 'string' | 'shape' | 'ints' | 'tensor';
type TypedArray = Float32Array | Int32Array | Uint8Array;
type TensorSpec = readonly [number, readonly number[], TypedArray];
export type Attr = readonly [string, AttrKind, number | boolean | string | readonly number[] | TensorSpec];
type Input = Out | readonly Out[];
declare const graphBrand: unique symbol;
type GraphHandle = { readonly [graphBrand]: true };

/** The addon's functions (native/tfgraph/tfgraph.c). */
interface TfGraphAddon {
  version(): string;
  newGraph(config?: Uint8Array): GraphHandle;
  addOp(g: GraphHandle, type: string, name: string, inputs: Input[], attrs: Attr[], control: number[]): number;
  addGradients(g: GraphHandle, ys: Out[], xs: Out[]): Out[];
  outputShape(g: GraphHandle, o: Out): number[] | null;
  run(
    g: GraphHandle,
    feeds: [Out, TensorSpec][],
    fetches: Out[],
    targets: number[],
    trace?: boolean,
  ): [Float32Array | Int32Array | Uint8Array, number[]][] & { runMetadata?: Uint8Array };
}

/** TensorFlow's TF_DataType codes. */
export const DT = { float: 1, int32: 3, uint8: 4, int64: 9, bool: 10, bfloat16: 14, resource: 20 } as const;

const ADDON_PATH = path.join('native', 'tfgraph', 'build', 'Release', 'coordrl_tfgraph.node');
let cached: { addon: TfGraphAddon | null; reason: string } | null = null;

function findAddon(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, ADDON_PATH);
    if (existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  return null;
}

/** The addon, or null (and why) when the compiled path is not available. */
export function compiledAvailability(): { addon: TfGraphAddon | null; reason: string } {
  if (process.env.COORDRL_NO_COMPILED === '1') return { addon: null, reason: 'off: COORDRL_NO_COMPILED=1' };
  if (tf.getBackend() !== 'tensorflow') return { addon: null, reason: `off: the backend is ${tf.getBackend()}` };
  if (cached) return cached;
  const file = findAddon();
  if (!file) {
    cached = { addon: null, reason: `off: ${ADDON_PATH} is not built (npm run setup builds it)` };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as TfGraphAddon;
    cached = {
      addon,
      reason: `on: updates and inference run as TensorFlow ${addon.version()} graphs (native/tfgraph)`,
    };
  } catch (e) {
    cached = { addon: null, reason: `off: ${ADDON_PATH} does not load: ${(e as Error).message.split('\n')[0]}` };
  }
  return cached;
}

export function loadTfGraph(): TfGraphAddon | null {
  return compiledAvailability().addon;
}

/** A graph under construction (and, once run, its session: ops added later extend it). */
export class Graph {
  private readonly h: GraphHandle;
  private n = 0;
  /** When set, runs are traced by TensorFlow and each run's RunMetadata protobuf goes here (profiles). */
  onTrace: ((runMetadata: Uint8Array) => void) | null = null;

  /** `sessionConfig`: a serialized ConfigProto for the session (see runtime.ts). */
  constructor(
    private readonly addon: TfGraphAddon,
    sessionConfig?: Uint8Array,
  ) {
    this.h = sessionConfig ? addon.newGraph(sessionConfig) : addon.newGraph();
  }

  /** Attributes added to every operation built inside `withAttrs`. */
  private scopeAttrs: Attr[] = [];

  /** Adds an operation; returns its index (for control inputs and targets). */
  op(type: string, inputs: Input[], attrs: Attr[] = [], control: number[] = []): number {
    const all = this.scopeAttrs.length ? [...attrs, ...this.scopeAttrs] : attrs;
    return this.addon.addOp(this.h, type, `${type}_${this.n++}`, inputs, all, control);
  }

  /** Builds with `attrs` on every operation that `build` adds (e.g. `_XlaCompile`). */
  withAttrs<T>(attrs: Attr[], build: () => T): T {
    const outer = this.scopeAttrs;
    this.scopeAttrs = [...outer, ...attrs];
    try {
      return build();
    } finally {
      this.scopeAttrs = outer;
    }
  }

  /** Adds an operation and returns its first output. */
  out(type: string, inputs: Input[], attrs: Attr[] = [], control: number[] = []): Out {
    return [this.op(type, inputs, attrs, control), 0];
  }

  shape(o: Out): number[] | null {
    return this.addon.outputShape(this.h, o);
  }

  /** d(sum ys)/d xs for each x (TensorFlow's registered C++ gradients). */
  gradients(ys: Out[], xs: Out[]): Out[] {
    const dx = this.addon.addGradients(this.h, ys, xs);
    dx.forEach((d, i) => {
      if (d[0] < 0) throw new Error(`compiled graph: no gradient reaches input ${i}`);
    });
    return dx;
  }

  run(feeds: [Out, TensorSpec][], fetches: Out[], targets: number[] = []): [TypedArray, number[]][] {
    if (!this.onTrace) return this.addon.run(this.h, feeds, fetches, targets);
    const out = this.addon.run(this.h, feeds, fetches, targets, true);
    if (!out.runMetadata)
      throw new Error('compiled graph: this build of native/tfgraph cannot trace runs (rebuild it)');
    this.onTrace(out.runMetadata);
    return out;
  }

  // ---- Helpers for the ops the compiled steps use (float32 unless said otherwise).
  placeholder(dtype: number, shape: number[]): Out {
    return this.out(
      'Placeholder',
      [],
      [
        ['dtype', 'type', dtype],
        ['shape', 'shape', shape],
      ],
    );
  }
  constF(values: Float32Array | number, shape: number[] = []): Out {
    const v = typeof values === 'number' ? new Float32Array([values]) : values;
    return this.out(
      'Const',
      [],
      [
        ['dtype', 'type', DT.float],
        ['value', 'tensor', [DT.float, shape, v]],
      ],
    );
  }
  constI(values: number[], shape: number[] = [values.length]): Out {
    return this.out(
      'Const',
      [],
      [
        ['dtype', 'type', DT.int32],
        ['value', 'tensor', [DT.int32, shape, Int32Array.from(values)]],
      ],
    );
  }
  private f = (type: string, inputs: Input[], attrs: Attr[] = []): Out =>
    this.out(type, inputs, [['T', 'type', DT.float], ...attrs]);
  add = (a: Out, b: Out) => this.f('AddV2', [a, b]);
  sub = (a: Out, b: Out) => this.f('Sub', [a, b]);
  mul = (a: Out, b: Out) => this.f('Mul', [a, b]);
  div = (a: Out, b: Out) => this.f('RealDiv', [a, b]);
  neg = (a: Out) => this.f('Neg', [a]);
  abs = (a: Out) => this.f('Abs', [a]);
  exp = (a: Out) => this.f('Exp', [a]);
  sqrt = (a: Out) => this.f('Sqrt', [a]);
  square = (a: Out) => this.f('Square', [a]);
  minimum = (a: Out, b: Out) => this.f('Minimum', [a, b]);
  relu = (a: Out) => this.f('Relu', [a]);
  tanh = (a: Out) => this.f('Tanh', [a]);
  logSoftmax = (a: Out) => this.f('LogSoftmax', [a]);
  stopGradient = (a: Out) => this.f('StopGradient', [a]);
  matmul = (a: Out, b: Out) =>
    this.f(
      'MatMul',
      [a, b],
      [
        ['transpose_a', 'bool', false],
        ['transpose_b', 'bool', false],
      ],
    );
  biasAdd = (a: Out, b: Out) => this.f('BiasAdd', [a, b], [['data_format', 'string', 'NHWC']]);
  /** Sum or mean over `axes` (all axes of a rank-r tensor: pass [0..r-1]). */
  reduce(kind: 'Sum' | 'Mean' | 'Max', a: Out, axes: number[], keepDims = false): Out {
    return this.out(
      kind,
      [a, this.constI(axes)],
      [
        ['T', 'type', DT.float],
        ['Tidx', 'type', DT.int32],
        ['keep_dims', 'bool', keepDims],
      ],
    );
  }
  reshape(a: Out, shape: number[], dtype: number = DT.float): Out {
    return this.out(
      'Reshape',
      [a, this.constI(shape)],
      [
        ['T', 'type', dtype],
        ['Tshape', 'type', DT.int32],
      ],
    );
  }
  cast(a: Out, from: number, to: number): Out {
    return this.out(
      'Cast',
      [a],
      [
        ['SrcT', 'type', from],
        ['DstT', 'type', to],
        ['Truncate', 'bool', false],
      ],
    );
  }
  /** argmax along axis 1, int32. */
  argMax1(a: Out): Out {
    return this.out(
      'ArgMax',
      [a, this.constI([1], [])],
      [
        ['T', 'type', DT.float],
        ['Tidx', 'type', DT.int32],
        ['output_type', 'type', DT.int32],
      ],
    );
  }
  /** float32 one-hot rows of int32 indices. */
  oneHot(indices: Out, depth: number): Out {
    return this.out(
      'OneHot',
      [indices, this.constI([depth], []), this.constF(1), this.constF(0)],
      [
        ['T', 'type', DT.float],
        ['TI', 'type', DT.int32],
        ['axis', 'int', -1],
      ],
    );
  }
  /** Sum of squares of x (TensorFlow's L2Loss is half of it). */
  sumOfSquares(x: Out): Out {
    return this.mul(this.f('L2Loss', [x]), this.constF(2));
  }
}
