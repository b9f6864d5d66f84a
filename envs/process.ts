// Starting the Python server as a child process, and making sure it never outlives us.
//
// Belt and braces against orphans: the server (started with --managed --exit-on-stdin-eof
// --parent-pid) exits when its stdin pipe closes, when the kernel's parent-death signal fires
// (Linux), or when its parent pid changes; and here every child is SIGKILLed on process exit and
// on SIGINT/SIGTERM/SIGHUP when nothing else handles those signals.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserFacingError } from '../src/util/cli-errors.js';
import { bridgeDir, defaultPython } from './paths.js';

export interface SpawnOptions {
  /** Python interpreter; default COORDRL_PYTHON or python-bridge/.venv/bin/python. */
  python?: string;
  /** --bind endpoint; default a private ipc:// socket. */
  bind?: string;
  /** Extra server arguments (see `python -m coordrl_bridge --help`). */
  args?: string[];
  /** How long to wait for the ready line; default 60 s. */
  startTimeoutMs?: number;
  /** 'inherit': copy the server's stderr to ours; 'buffer' (default): keep its tail for error messages. */
  stderr?: 'inherit' | 'buffer';
  logLevel?: 'debug' | 'info' | 'warning' | 'error';
}

export interface ReadyLine {
  event: 'ready';
  endpoint: string;
  protocol: number;
  pid: number;
  curve: boolean;
  serverPublicKey: string | null;
}

export interface SpawnedServer {
  child: ChildProcess;
  ready: ReadyLine;
  /** Last lines the server wrote to stderr. */
  stderrTail(): string;
  /** Resolves when the child has exited (at once if it already has). */
  exited: Promise<void>;
}

// ---- orphan guard -------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let guardInstalled = false;
let interrupted = false;

/** True once SIGINT/SIGTERM/SIGHUP arrived: restarting a server then would be wrong. */
export function processInterrupted(): boolean {
  return interrupted;
}

function killAllChildren(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installGuard(): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.once('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      interrupted = true;
      if (process.listenerCount(sig) > 1) return; // the application handles it (and closes its envs)
      killAllChildren();
      process.removeListener(sig, handler);
      process.kill(process.pid, sig); // default action: die by the signal
    };
    process.on(sig, handler);
  }
}

/** Registers a child to be killed when this process exits. */
export function guardChild(child: ChildProcess): void {
  installGuard();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Number of live server children (for tests). */
export function liveChildren(): number {
  return children.size;
}

// ---- spawning -----------------------------------------------------------------------------------

/** Arguments of a server started by (and bound to the life of) this process. */
export function managedServerArgs(opts: SpawnOptions = {}, parentPid = process.pid): string[] {
  return [
    '-m',
    'coordrl_bridge',
    '--managed',
    '--exit-on-stdin-eof',
    '--parent-pid',
    String(parentPid),
    '--log-level',
    opts.logLevel ?? 'warning',
    ...(opts.bind ? ['--bind', opts.bind] : []),
    ...(opts.args ?? []),
  ];
}

export async function spawnServer(opts: SpawnOptions = {}): Promise<SpawnedServer> {
  const python = opts.python ?? defaultPython();
  if (!existsSync(python)) {
    throw new UserFacingError(
      `Python for the env server not found at ${python}; run \`npm run setup\` (creates python-bridge/.venv) or set COORDRL_PYTHON`,
    );
  }
  const args = managedServerArgs(opts);
  const child = spawn(python, args, {
    cwd: bridgeDir(),
    stdio: ['pipe', 'pipe', opts.stderr === 'inherit' ? 'inherit' : 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  guardChild(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const tail: string[] = [];
  if (child.stderr) {
    const rl = createInterface({ input: child.stderr });
    rl.on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
    });
  }
  const stderrTail = (): string => tail.join('\n');
  // The stdin pipe stays open (never written): when we die, it closes and the server exits.
  child.stdin?.on('error', () => {});

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    const rl = createInterface({ input: child.stdout! });
    const cleanup = (): void => {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.removeListener('error', onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      rl.close();
      child.kill('SIGKILL');
      reject(new UserFacingError(`env server did not start within ${timeoutMs} ms\n${stderrTail()}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      // let the stderr reader catch up before reporting
      setTimeout(() => {
        reject(
          new UserFacingError(
            `env server exited before it was ready (${signal ?? `code ${code}`}): ${stderrTail() || '(no output)'}`,
          ),
        );
      }, 50);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new UserFacingError(`cannot start the env server with ${python}: ${e.message}`));
    };
    child.once('exit', onExit);
    child.once('error', onError);
    rl.on('line', (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not ours
      }
      if (msg && typeof msg === 'object' && (msg as { event?: unknown }).event === 'ready') {
        cleanup();
        rl.close();
        resolve(msg as ReadyLine);
      }
    });
  });
  return { child, ready, stderrTail, exited };
}

/** Stops a spawned server: closes its stdin, SIGTERM, then SIGKILL after `graceMs`; waits for exit. */
export async function stopServer(s: SpawnedServer, graceMs = 3000): Promise<void> {
  const { child } = s;
  if (child.exitCode === null && child.signalCode === null) {
    child.stdin?.destroy();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await s.exited;
    clearTimeout(timer);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}
