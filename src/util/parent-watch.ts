// Children that die with their parent. `coordrl ab` starts each trainer in its own process group
// (so a terminal's Ctrl-C reaches only the parent), which also means nothing stops the trainers
// when the parent is SIGKILLed: they trained on as orphans. So the parent gives each child a
// stdin pipe it never writes to and sets PARENT_WATCH_ENV; the kernel closes the pipe when the
// parent dies, however it dies, and the child sees end-of-file and stops as on SIGTERM (saving a
// checkpoint), or exits after a grace period. The env server watches its parent the same way.

export const PARENT_WATCH_ENV = 'COORDRL_EXIT_WITH_PARENT';

/** Longest wait for the SIGTERM path (checkpoint, env shutdown) before the child just exits. */
const GRACE_MS = 120_000;

/** In a child started with PARENT_WATCH_ENV=stdin: stop when stdin closes. A no-op otherwise. */
export function exitWithParent(): void {
  if (process.env[PARENT_WATCH_ENV] !== 'stdin') return;
  delete process.env[PARENT_WATCH_ENV];
  const stdin = process.stdin;
  let gone = false;
  const onGone = () => {
    if (gone) return;
    gone = true;
    // stdout and stderr went to the parent too: writes to them fail (EPIPE) from now on, and an
    // unhandled stream error would kill this process in the middle of its checkpoint.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
    process.stderr.write('coordrl: the parent process is gone: stopping\n');
    setTimeout(() => process.exit(130), GRACE_MS).unref();
    // A trainer's SIGTERM handler saves a checkpoint and exits; without a handler (starting up,
    // evaluating) exit now, so that exit handlers (the run's lock) still run.
    if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
    else process.exit(130);
  };
  stdin.on('end', onGone);
  stdin.on('close', onGone);
  stdin.on('error', onGone);
  stdin.on('data', () => {}); // the parent writes nothing; anything it does write is ignored
  stdin.resume();
  // The watch alone must not keep the process alive.
  (stdin as { unref?: () => void }).unref?.();
}
