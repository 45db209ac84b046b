#!/usr/bin/python3
"""Counts the mutable data of libmlchaos.so, object by object: the symbols of .data, .bss,
.tdata and .tbss (thread-locals included, read-only-after-relocation data and a
sanitizer's own symbols excluded), as `objdump -t` lists them. Process-wide state belongs in the few files that own it: fails when
one object holds more than --max-per-file such symbols, or all of them together more than
--max-total; prints every object's names either way.

    check_state.py --objdump OBJDUMP [--max-per-file N] [--max-total N] --dir DIR
"""

import argparse
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish  # noqa: E402

# "<addr> <flags> <section> <size> [.hidden] <name>"
LINE = re.compile(r"\s(\.(?:data|bss|tbss|tdata)(?:\.\S+)?)\s+[0-9a-f]{16}\s+"
                  r"(?:\.hidden\s+)?(\S+)$")


def instrumentation(name):
    """Section symbols, and what a sanitizer adds beside each global (__odr_asan.NAME)."""
    return name.startswith(".") or name.startswith(("__odr_asan", "__asan", "__ubsan"))


def mutable_symbols(objdump, obj):
    out = subprocess.run([objdump, "-t", obj], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    names = []
    for line in out.splitlines():
        m = LINE.search(line)
        if not m or "rel.ro" in m.group(1) or instrumentation(m.group(2)):
            continue
        names.append(m.group(2))
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objdump", default="objdump")
    ap.add_argument("--max-per-file", type=int, default=8)
    ap.add_argument("--max-total", type=int, default=40)
    ap.add_argument("--dir", required=True, help="the library's object files (*.o)")
    a = ap.parse_args()
    a.objects = glob.glob(os.path.join(a.dir, "*.o"))
    if not check(a.objects, f"an object file in {a.dir}"):
        return finish()
    total = 0
    for obj in sorted(a.objects):
        names = mutable_symbols(a.objdump, obj)
        total += len(names)
        name = os.path.basename(obj)
        if names:
            print(f"{len(names):2d} {name}: {', '.join(sorted(names))}")
        check(len(names) <= a.max_per_file,
              f"{name} holds {len(names)} mutable symbols (at most {a.max_per_file})")
    print(f"{total} mutable data symbols in {len(a.objects)} objects")
    check(total <= a.max_total, f"{total} in all (at most {a.max_total})")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
