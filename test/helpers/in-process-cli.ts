// Runs `coordrl <args>` in the test's own process with only the given commands registered, and
// returns what it printed on stdout (errors are thrown as the commands throw them).
import { Command } from 'commander';
import { vi } from 'vitest';
import type { CommandRegistrar } from '../../src/cli.js';

export async function runCli(
  registrars: CommandRegistrar[],
  args: string[],
  opts: { quietStderr?: boolean } = {},
): Promise<string> {
  const program = new Command('coordrl').exitOverride();
  for (const register of registrars) register(program);
  for (const c of program.commands) c.exitOverride();
  const out: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  const stderr = opts.quietStderr ? vi.spyOn(process.stderr, 'write').mockImplementation(() => true) : null;
  try {
    await program.parseAsync(['node', 'coordrl', ...args]);
  } finally {
    stdout.mockRestore();
    stderr?.mockRestore();
  }
  return out.join('');
}
