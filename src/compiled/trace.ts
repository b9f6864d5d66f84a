// What a traced session run executed: TensorFlow's RunMetadata.step_stats (every node the executor
// ran after grappler rewrote the graph, with its times), read from the serialized protobuf with a
// minimal wire-format reader (only the fields used here; no protobuf dependency).
//
// RunMetadata { StepStats step_stats = 1 }; StepStats { repeated DeviceStepStats dev_stats = 1 };
// DeviceStepStats { string device = 1; repeated NodeExecStats node_stats = 2 };
// NodeExecStats { string node_name = 1; int64 all_start_micros = 2; int64 op_end_rel_micros = 4;
//   string timeline_label = 8; int64 all_start_nanos = 13; int64 op_end_rel_nanos = 15 }.

export interface ExecutedNode {
  name: string;
  /** The op type (from the timeline label "name = Op(inputs)"; the name's prefix when there is none). */
  op: string;
  /** Start, nanoseconds since the epoch (microsecond resolution when the nanos field is absent). */
  startNs: number;
  /** From start to the end of the op's compute, nanoseconds. */
  durationNs: number;
}

type Field = { no: number; wire: number; value: number; bytes: Uint8Array | null };

/** The top-level fields of one protobuf message (varints as numbers: exact below 2^53). */
function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('trace: truncated varint');
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error('trace: varint too long');
    }
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield { no, wire, value: varint(), bytes: null };
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error('trace: truncated field');
      yield { no, wire, value: len, bytes: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`trace: unsupported wire type ${wire}`);
  }
}

const text = new TextDecoder();

function node(buf: Uint8Array): ExecutedNode {
  let name = '';
  let label = '';
  let startUs = 0;
  let endRelUs = 0;
  let startNs = -1;
  let endRelNs = -1;
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) name = text.decode(f.bytes);
    else if (f.no === 8 && f.bytes) label = text.decode(f.bytes);
    else if (f.no === 2 && f.wire === 0) startUs = f.value;
    else if (f.no === 4 && f.wire === 0) endRelUs = f.value;
    else if (f.no === 13 && f.wire === 0) startNs = f.value;
    else if (f.no === 15 && f.wire === 0) endRelNs = f.value;
  }
  const fromLabel = /=\s*([A-Za-z0-9_]+)\(/.exec(label)?.[1];
  return {
    name,
    op: fromLabel ?? name.replace(/_\d+$/, ''),
    startNs: startNs >= 0 ? startNs : startUs * 1000,
    durationNs: endRelNs >= 0 ? endRelNs : endRelUs * 1000,
  };
}

/** The nodes a traced run executed, over all devices, in start order. */
export function executedNodes(runMetadata: Uint8Array): ExecutedNode[] {
  const out: ExecutedNode[] = [];
  for (const rm of fields(runMetadata)) {
    if (rm.no !== 1 || !rm.bytes) continue;
    for (const ss of fields(rm.bytes)) {
      if (ss.no !== 1 || !ss.bytes) continue;
      for (const dev of fields(ss.bytes)) if (dev.no === 2 && dev.bytes) out.push(node(dev.bytes));
    }
  }
  return out.sort((a, b) => a.startNs - b.startNs);
}

export interface GraphRunProfile {
  /** Traced runs aggregated. */
  runs: number;
  /** Nodes executed per run (the executor's own _SOURCE and _Retval/_Arg nodes included). */
  nodesPerRun: number;
  /** Wall time of a run from its first node's start to its last node's end, microseconds (traced: slower than untraced). */
  spanUs: number;
  /** Per op type: nodes per run and summed compute time per run (microseconds), biggest first. */
  byOp: { op: string; count: number; us: number }[];
}

/** Aggregates several traced runs of the same call. */
export function profileRuns(runs: Uint8Array[]): GraphRunProfile {
  const byOp = new Map<string, { count: number; ns: number }>();
  let nodes = 0;
  let spanNs = 0;
  for (const meta of runs) {
    const ns = executedNodes(meta);
    nodes += ns.length;
    if (ns.length) {
      const start = ns[0].startNs;
      spanNs += Math.max(...ns.map((n) => n.startNs + n.durationNs)) - start;
    }
    for (const n of ns) {
      const t = byOp.get(n.op) ?? { count: 0, ns: 0 };
      t.count++;
      t.ns += n.durationNs;
      byOp.set(n.op, t);
    }
  }
  const k = Math.max(1, runs.length);
  return {
    runs: runs.length,
    nodesPerRun: nodes / k,
    spanUs: spanNs / k / 1000,
    byOp: [...byOp].map(([op, t]) => ({ op, count: t.count / k, us: t.ns / k / 1000 })).sort((a, b) => b.us - a.us),
  };
}
