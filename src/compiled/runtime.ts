// One graph + session per agent, holding a resource-variable mirror of every tfjs variable the
// compiled functions use (online and target networks), plus the optimizer's slots.
//
// The tfjs variables stay the source of truth for everything outside the compiled calls
// (checkpoints, model.save, setWeights, target copies, the eager fallback): a train step writes
// its new weights back into them, and before each call any variable whose data changed since it
// was last synced (detected by its data id, as the fused optimizers do) is uploaded again.
import { tf } from '../tf.js';
import { note } from '../util/output.js';
import { compiledAvailability, DT, Graph, loadTfGraph, type Out } from './graph.js';
import { cpuBf16Support, type Precision } from './precision.js';

/** A resource variable in the graph: its handle, an assign fed from a placeholder, a plain read. */
export interface GraphVariable {
  handle: Out;
  shape: number[];
  read: Out;
  feed: Out;
  assign: number;
}

interface Mirror extends GraphVariable {
  variable: tf.Variable;
  syncedDataId: object | null;
}

export class CompiledRuntime {
  readonly g: Graph;
  private readonly mirrors = new Map<tf.Variable, Mirror>();
  private nextName = 0;

  /** Whether the session clusters the graph with XLA (see preferXla). */
  readonly xla: boolean;

  constructor(
    addon: NonNullable<ReturnType<typeof loadTfGraph>>,
    xla = false,
    readonly precision: Precision = 'fp32',
  ) {
    this.xla = xla;
    this.g = new Graph(addon, xla ? XLA_JIT_CONFIG : undefined);
  }

  /** A float32 resource variable of `shape` (value set with `upload`). */
  newVariable(shape: number[]): GraphVariable {
    const g = this.g;
    const attrs = [
      ['dtype', 'type', DT.float],
      ['shape', 'shape', shape],
      ['shared_name', 'string', `v${this.nextName++}`],
      ['container', 'string', ''],
    ] as const;
    const handle = g.out('VarHandleOp', [], [...attrs]);
    const feed = g.placeholder(DT.float, shape);
    const assign = g.op('AssignVariableOp', [handle, feed], [['dtype', 'type', DT.float]]);
    const read = g.out('ReadVariableOp', [handle], [['dtype', 'type', DT.float]]);
    return { handle, shape, read, feed, assign };
  }

  /** The graph mirror of a tfjs variable (created on first use, uploaded at the next `syncIn`). */
  mirror(v: tf.Variable): GraphVariable {
    let m = this.mirrors.get(v);
    if (!m) {
      m = { ...this.newVariable([...v.shape]), variable: v, syncedDataId: null };
      this.mirrors.set(v, m);
    }
    return m;
  }

  /** A read of `vars` that runs after the `after` operations (the values a step wrote). */
  readsAfter(vars: GraphVariable[], after: number[]): Out[] {
    return vars.map((gv) => this.g.out('ReadVariableOp', [gv.handle], [['dtype', 'type', DT.float]], after));
  }

  /** Sets graph variables to the given values (one session call). */
  upload(values: [GraphVariable, Float32Array][]): void {
    if (values.length === 0) return;
    this.g.run(
      values.map(([gv, data]) => [gv.feed, [DT.float, gv.shape, data]]),
      [],
      values.map(([gv]) => gv.assign),
    );
  }

  /** Uploads every mirrored tfjs variable whose value changed since it was last synced. */
  syncIn(): void {
    const stale: Mirror[] = [];
    for (const m of this.mirrors.values()) if (m.syncedDataId !== m.variable.dataId) stale.push(m);
    if (stale.length === 0) return;
    this.upload(stale.map((m) => [m, m.variable.dataSync() as Float32Array]));
    for (const m of stale) m.syncedDataId = m.variable.dataId;
  }

  /** Puts values that a step wrote into the graph variables back into their tfjs variables. */
  writeBack(vars: tf.Variable[], values: Float32Array[]): void {
    vars.forEach((v, i) => {
      const m = this.mirrors.get(v);
      if (!m) throw new Error('compiled runtime: write-back of a variable without a mirror');
      const t = tf.tensor(values[i], v.shape, 'float32');
      v.assign(t);
      t.dispose(); // the variable keeps the data
      m.syncedDataId = v.dataId;
    });
  }
}

const runtimes = new WeakMap<object, CompiledRuntime | null>();
const precisions = new WeakMap<object, Precision>();

/**
 * The precision of the updates that `owner`'s graph compiles (default fp32; inference is always
 * fp32). Set it before the first compiled call: the runtime takes it when it is made.
 */
export function setCompiledPrecision(owner: object, precision: Precision): void {
  const rt = runtimes.get(owner);
  if (rt && rt.precision !== precision) {
    throw new Error(`compiled runtime: precision ${precision} asked after the graph was built as ${rt.precision}`);
  }
  precisions.set(owner, precision);
}

/**
 * The precision a run asked for, as it can run here: bf16 needs the compiled graphs and a CPU with
 * bf16 arithmetic (elsewhere oneDNN emulates it, slower than fp32); otherwise a one-line note and fp32.
 */
export function usablePrecision(asked: Precision): Precision {
  if (asked === 'fp32') return 'fp32';
  const { addon, reason } = compiledAvailability();
  if (!addon) {
    note(`--precision bf16 ignored: it applies to the compiled TensorFlow graphs, which are ${reason}; running fp32`);
    return 'fp32';
  }
  if (!cpuBf16Support()) {
    note('--precision bf16 ignored: this CPU has neither AMX-BF16 nor AVX512-BF16; running fp32');
    return 'fp32';
  }
  return 'bf16';
}

/**
 * The runtime shared by everything keyed on `owner` (an agent's env: its networks and its update
 * live in one graph), or null when the compiled path is not available.
 */
export function runtimeFor(owner: object): CompiledRuntime | null {
  if (runtimes.has(owner)) return runtimes.get(owner) ?? null;
  const addon = loadTfGraph();
  const rt = addon ? new CompiledRuntime(addon, xlaWanted(owner), precisions.get(owner) ?? 'fp32') : null;
  runtimes.set(owner, rt);
  return rt;
}

/** ConfigProto { graph_options { optimizer_options { global_jit_level: ON_2 } } }: XLA clusters what it can. */
const XLA_JIT_CONFIG = Uint8Array.of(0x52, 0x04, 0x1a, 0x02, 0x28, 0x02);

const xlaOwners = new WeakSet<object>();

/**
 * Asks for XLA on the runtime of `owner` (call before anything of it is compiled). XLA fuses the
 * small graph's ~340 executor nodes (the gradient's elementwise ops, the PyTorch-form centered
 * RMSprop written out per variable) into one compiled kernel: the MinAtar DQN update ran ~25%
 * faster (docs/speed.md). Only where measured: the agents ask for it for small networks.
 */
export function preferXla(owner: object): void {
  xlaOwners.add(owner);
}

/** COORDRL_XLA=0 turns XLA off, =1 on for every compiled graph; otherwise as preferXla said. */
function xlaWanted(owner: object): boolean {
  const env = process.env.COORDRL_XLA;
  if (env === '0') return false;
  return env === '1' || xlaOwners.has(owner);
}
