"""Unpack what @tensorflow/tfjs-node's addon needs from a TensorFlow wheel.

usage: python extract_tf_wheel.py WHEEL OUT_DIR [BINDING_SOURCES_DIR]

Writes OUT_DIR/lib/{libtensorflow_cc.so.2,libtensorflow_framework.so.2} and OUT_DIR/include/
holding tensorflow/c/c_api.h, tensorflow/c/eager/c_api.h and, transitively, every header they
include that the wheel carries (found by following #include "..." lines), starting also from
the includes of the addon's own sources when BINDING_SOURCES_DIR is given. Only those members
are read, so this takes seconds, not the minute a full unzip of ~15k files would.

With COORDRL_CUDA_WHEELS set to a folder of nvidia-*-cu12 wheels, their nvidia/*/lib files are
unpacked into OUT_DIR/nvidia so the GPU library finds them through its $ORIGIN-relative RUNPATH.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

INCLUDE_PREFIX = "tensorflow/include/"
ROOT_HEADERS = ("tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h")
LIBS = ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")
INCLUDE_RE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def header_closure(zf: zipfile.ZipFile, binding_dir: Path | None) -> list[str]:
    names = set(zf.namelist())
    todo = list(ROOT_HEADERS)
    if binding_dir is not None:
        for src in sorted(binding_dir.glob("*.[ch]*")):
            todo.extend(inc.decode() for inc in INCLUDE_RE.findall(src.read_bytes()))
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        member = INCLUDE_PREFIX + rel
        if member not in names:
            continue  # a system or optional header the wheel does not carry
        seen.add(rel)
        for inc in INCLUDE_RE.findall(zf.read(member)):
            todo.append(inc.decode())
    missing = [h for h in ROOT_HEADERS if h not in seen]
    if missing:
        raise SystemExit(f"wheel lacks the C API headers {missing}: is it a TensorFlow wheel?")
    return sorted(seen)


def copy_member(zf: zipfile.ZipFile, member: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def main() -> None:
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    wheel, out = Path(sys.argv[1]), Path(sys.argv[2])
    binding_dir = Path(sys.argv[3]) if len(sys.argv) == 4 else None
    with zipfile.ZipFile(wheel) as zf:
        headers = header_closure(zf, binding_dir)
        for rel in headers:
            copy_member(zf, INCLUDE_PREFIX + rel, out / "include" / rel)
        for lib in LIBS:
            copy_member(zf, lib, out / "lib" / Path(lib).name)
    print(f"[coordrl setup] unpacked {len(headers)} headers and {len(LIBS)} libraries from {wheel.name}")

    cuda = os.environ.get("COORDRL_CUDA_WHEELS")
    if cuda:
        count = 0
        for w in sorted(Path(cuda).glob("nvidia_*.whl")):
            with zipfile.ZipFile(w) as zf:
                for m in zf.namelist():
                    if m.startswith("nvidia/") and "/lib/" in m and not m.endswith("/"):
                        copy_member(zf, m, out / m)
                        count += 1
        print(f"[coordrl setup] unpacked {count} CUDA library files")


if __name__ == "__main__":
    main()
