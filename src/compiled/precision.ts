// The arithmetic of the compiled training steps: fp32, or bf16 mixed precision with fp32 master
// weights. bf16 casts the input and each weight read to bfloat16 inside the update's graph, runs
// the network's layers in bfloat16 (oneDNN's AMX-BF16 / AVX512-BF16 kernels for the convolutions
// and matmuls) and casts its outputs back: the loss, the gradients that reach the fp32 variables
// (through the Casts' gradients), the optimizer and everything fed and fetched stay float32, as
// with PyTorch's autocast (model-graph.ts builds it; docs/speed.md has the measurements, and why
// TensorFlow's own grappler auto mixed precision was not kept).

import { readFileSync } from 'node:fs';

export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

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
