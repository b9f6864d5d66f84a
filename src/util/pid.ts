// Whether a process is alive, for the owners recorded in lock files and temporary checkpoints.

/** True when `pid` exists (signal 0 reaches it, or it exists but belongs to another user: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
