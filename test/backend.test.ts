import { describe, expect, it } from 'vitest';
import { BackendError, decideBackend, type NativeProbe } from '../src/backend.js';

type Pkg = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';

/** A probe that answers from a table and records which packages were tried, in order. */
function probeFrom(table: Partial<Record<Pkg, NativeProbe>>) {
  const tried: Pkg[] = [];
  const probe = (pkg: Pkg): NativeProbe => {
    tried.push(pkg);
    return table[pkg] ?? { loaded: false, usesGpu: false, error: 'Cannot find module' };
  };
  return { probe, tried };
}

const gpuOk: NativeProbe = { loaded: true, usesGpu: true };
const gpuNoDevice: NativeProbe = { loaded: true, usesGpu: false };
const cpuOk: NativeProbe = { loaded: true, usesGpu: false };

describe('decideBackend', () => {
  it('auto takes the GPU package only when it loads and really sees a GPU', () => {
    const { probe, tried } = probeFrom({ '@tensorflow/tfjs-node-gpu': gpuOk, '@tensorflow/tfjs-node': cpuOk });
    expect(decideBackend('auto', probe)).toEqual({
      backend: 'tensorflow',
      package: '@tensorflow/tfjs-node-gpu',
      warnings: [],
    });
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('auto falls back to native CPU, with a warning, when the GPU package sees no GPU', () => {
    const { probe, tried } = probeFrom({ '@tensorflow/tfjs-node-gpu': gpuNoDevice, '@tensorflow/tfjs-node': cpuOk });
    const d = decideBackend('auto', probe);
    expect(d.package).toBe('@tensorflow/tfjs-node');
    expect(d.backend).toBe('tensorflow');
    expect(d.warnings.join(' ')).toMatch(/sees no GPU/);
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  });

  it('auto uses native CPU silently when no GPU package is installed', () => {
    const { probe } = probeFrom({ '@tensorflow/tfjs-node': cpuOk });
    expect(decideBackend('auto', probe)).toEqual({
      backend: 'tensorflow',
      package: '@tensorflow/tfjs-node',
      warnings: [],
    });
  });

  it('auto falls back to pure JS with a loud warning when nothing native loads', () => {
    const { probe } = probeFrom({});
    const d = decideBackend('auto', probe);
    expect(d.backend).toBe('cpu');
    expect(d.package).toBeNull();
    expect(d.warnings.join(' ')).toMatch(/900x slower/);
  });

  it('tensorflow never tries the GPU package and fails clearly when native CPU is missing', () => {
    const { probe, tried } = probeFrom({ '@tensorflow/tfjs-node-gpu': gpuOk });
    expect(() => decideBackend('tensorflow', probe)).toThrow(BackendError);
    expect(tried).toEqual(['@tensorflow/tfjs-node']);
  });

  it('tensorflow-gpu refuses a GPU package that runs on the CPU', () => {
    const { probe } = probeFrom({ '@tensorflow/tfjs-node-gpu': gpuNoDevice });
    expect(() => decideBackend('tensorflow-gpu', probe)).toThrow(/sees no CUDA GPU/);
  });

  it('tensorflow-gpu refuses when the GPU package is not installed', () => {
    const { probe } = probeFrom({ '@tensorflow/tfjs-node': cpuOk });
    expect(() => decideBackend('tensorflow-gpu', probe)).toThrow(/setup:gpu/);
  });

  it('cpu loads nothing native', () => {
    const { probe, tried } = probeFrom({ '@tensorflow/tfjs-node': cpuOk });
    expect(decideBackend('cpu', probe).backend).toBe('cpu');
    expect(tried).toEqual([]);
  });
});
