import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { benchReplay } from '../src/bench/replay.js';
import { registerBenchReplay } from '../src/commands/bench-replay.js';
import { UsageError } from '../src/util/cli-errors.js';

describe('bench replay', () => {
  it('reports memory and timings', () => {
    const r = benchReplay({ capacity: 4000, batch: 32, numEnvs: 4, nStep: 3, samples: 100 });
    expect(r.capacity).toBe(4000);
    expect(r.bytesPerTransition).toBeGreaterThan(84 * 84);
    expect(r.bytesPerTransition).toBeLessThan(1.05 * 84 * 84 + 12);
    expect(r.transitionsHeld).toBeGreaterThan(3800);
    for (const k of ['sampleMsP50', 'sampleMsP95', 'addMsPerStep'] as const) expect(r[k]).toBeGreaterThan(0);
    expect(r.sampleMsP95).toBeGreaterThanOrEqual(r.sampleMsP50);
  });

  it('registers `bench replay` with --json output and checks its arguments', async () => {
    const program = new Command('coordrl').exitOverride();
    const bench = program.command('bench');
    registerBenchReplay(bench);
    const out: string[] = [];
    const w = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync([
        'node',
        'coordrl',
        'bench',
        'replay',
        '--capacity',
        '2k',
        '--envs',
        '2',
        '--samples',
        '20',
        '--json',
      ]);
      await expect(
        program.parseAsync(['node', 'coordrl', 'bench', 'replay', '--capacity', '20', '--envs', '8']),
      ).rejects.toThrow(UsageError);
    } finally {
      w.mockRestore();
      e.mockRestore();
    }
    const r = JSON.parse(out.join(''));
    expect(r.capacity).toBe(2000);
    expect(r).toHaveProperty('sampleMsP50');
  });
});
