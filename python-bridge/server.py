"""Launcher: `python python-bridge/server.py [options]` is `python -m coordrl_bridge [options]`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from coordrl_bridge.__main__ import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
