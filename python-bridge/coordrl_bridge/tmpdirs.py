"""The server's private temp dir for its default ipc:// endpoint, and cleanup of ones left by killed servers.

A server removes its dir on exit, but one killed with SIGKILL (or by the OOM killer) cannot. Each dir
therefore holds an `owner` file with the server's pid and that process's start time; the next server
removes dirs whose owner is gone. Dirs without an owner file (made by something else with the same
prefix, or by older servers) are never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("coordrl_bridge")

PREFIX = "coordrl-bridge-"
OWNER_FILE = "owner"
MAX_SCAN = 10_000  # entries of a temp dir looked at, at most (a shared /tmp can be huge)


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux /proc), to tell a reused pid from the owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 2 (comm) may hold spaces and parentheses: split after its closing parenthesis
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def _owner_alive(pid: int, start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    if start is None:
        return True
    now = process_start_time(pid)
    return now is None or now == start


def make_private_dir() -> str:
    """A fresh 0700 dir with an owner file; short enough for a unix socket path (~107 bytes)."""
    path = tempfile.mkdtemp(prefix=PREFIX)
    if len(path) > 80 and os.path.isdir("/tmp"):
        os.rmdir(path)
        path = tempfile.mkdtemp(prefix=PREFIX, dir="/tmp")
    owner = {"pid": os.getpid(), "start": process_start_time(os.getpid())}
    Path(path, OWNER_FILE).write_text(json.dumps(owner))
    return path


def remove_stale_dirs(parents: list[str] | None = None) -> list[str]:
    """Removes this user's coordrl-bridge-* dirs (in the temp dir and /tmp) whose owner process is gone.
    Returns the removed paths."""
    if parents is None:
        parents = [tempfile.gettempdir(), "/tmp"]
    removed: list[str] = []
    uid = os.getuid()
    for parent in dict.fromkeys(os.path.realpath(p) for p in parents):
        with contextlib.suppress(OSError), os.scandir(parent) as it:
            for n, entry in enumerate(it):
                if n >= MAX_SCAN:
                    break
                if not entry.name.startswith(PREFIX):
                    continue
                path = os.path.join(parent, entry.name)
                if _is_stale(entry, uid):
                    shutil.rmtree(path, ignore_errors=True)
                    if not os.path.exists(path):
                        removed.append(path)
    for path in removed:
        log.info("removed %s, left by a server that is gone", path)
    return removed


def _is_stale(entry: os.DirEntry[str], uid: int) -> bool:
    try:
        if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
            return False
        owner_path = os.path.join(entry.path, OWNER_FILE)
        if os.path.islink(owner_path) or os.path.getsize(owner_path) > 1024:
            return False
        owner = json.loads(Path(owner_path).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict):
        return False
    pid, start = owner.get("pid"), owner.get("start")
    if type(pid) is not int or pid <= 0 or pid == os.getpid():
        return False
    return not _owner_alive(pid, start if type(start) is int else None)
