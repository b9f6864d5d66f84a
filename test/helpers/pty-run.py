"""Runs a command on a pseudo-terminal (as a user's shell would), types Ctrl-C once `--after` shows
up in its output (again after a second `--again` text, if given), and prints one JSON line:
the raw terminal output and the exit status (negative: killed by that signal)."""

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import termios
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--after", required=True, help="type Ctrl-C once the output holds this text"
    )
    ap.add_argument(
        "--again", help="then type Ctrl-C again once the output holds this text"
    )
    ap.add_argument("--timeout", type=float, default=90.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(a.cmd[0], a.cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    out = b""
    pending = [a.after.encode()] + ([a.again.encode()] if a.again else [])
    seen_from = 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if pending and pending[0] in out[seen_from:]:
            seen_from = out.index(pending[0], seen_from) + len(pending[0])
            pending.pop(0)
            os.write(fd, b"\x03")
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"output": out.decode("utf-8", "replace"), "code": code}))


if __name__ == "__main__":
    main()
