// Numeric precision of a compiled graph's session, and the session config that asks for it.
//
// bf16 is mixed precision with fp32 master weights: the variables, the optimizer step, the loss
// and everything fed and fetched stay float32; TensorFlow's grappler pass for oneDNN
// (RewriterConfig.auto_mixed_precision_onednn_bfloat16) rewrites the convolutions, matmuls and
// their gradients (and the elementwise ops between them) to bfloat16, with Casts inserted at the
// boundaries. On CPUs with AMX-BF16 / AVX512-BF16 oneDNN runs those kernels in bf16 hardware.
//
// The ConfigProto is written by hand (three nested fields) rather than pulling in a protobuf
// library: ConfigProto.graph_options = 10, GraphOptions.rewrite_options = 10,
// RewriterConfig.auto_mixed_precision_onednn_bfloat16 = 31 (Toggle ON = 1), as in TensorFlow
// 2.21's config.proto and rewriter_config.proto (read from the descriptors the library embeds).

import { readFileSync } from 'node:fs';

export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** A protobuf varint field. */
function varintField(field: number, value: number): number[] {
  return [...varint(field << 3), ...varint(value)];
}

/** A protobuf length-delimited (embedded message) field. */
function messageField(field: number, body: number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(body.length), ...body];
}

const CONFIG_GRAPH_OPTIONS = 10;
const GRAPH_REWRITE_OPTIONS = 10;
const REWRITER_AMP_ONEDNN_BF16 = 31;
const TOGGLE_ON = 1;

/** The serialized tensorflow.ConfigProto for a session of this precision (null: TF's defaults). */
export function sessionConfig(precision: Precision): Uint8Array | null {
  if (precision === 'fp32') return null;
  const rewriter = varintField(REWRITER_AMP_ONEDNN_BF16, TOGGLE_ON);
  return Uint8Array.from(messageField(CONFIG_GRAPH_OPTIONS, messageField(GRAPH_REWRITE_OPTIONS, rewriter)));
}

/**
 * Whether this CPU has bfloat16 arithmetic that oneDNN uses (AMX-BF16 or AVX512-BF16), from
 * /proc/cpuinfo's flags: elsewhere oneDNN would emulate bf16, slower than fp32.
 */
export function cpuBf16Support(cpuinfo: string | null = readCpuinfo()): 'amx_bf16' | 'avx512_bf16' | null {
  const flags = new Set(
    (cpuinfo ?? '')
      .split('\n')
      .find((l) => l.startsWith('flags'))
      ?.split(':')[1]
      ?.trim()
      .split(/\s+/) ?? [],
  );
  if (flags.has('amx_bf16')) return 'amx_bf16';
  if (flags.has('avx512_bf16')) return 'avx512_bf16';
  return null;
}

function readCpuinfo(): string | null {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
}
