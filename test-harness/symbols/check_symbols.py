#!/usr/bin/python3
"""Fails when libmlchaos.so exports anything but the libc names listed in shim.map.

Reads the `global:` names of the version script (so the list lives in one
place), lists `nm -D --defined-only` of the library, and reports:
  - exported symbols the map does not list (a helper that escaped
    -fvisibility=hidden, a static library's symbols, a sanitizer's);
  - names the map lists that the library does not export (a hook that lost
    its MC_EXPORT, so the host's calls would bypass the shim);
  - names the map lists that libc does not define (a typo, or a name that
    would shadow nothing); C++ names (operator new) against libstdc++ instead; the CUDA
    functions of shim/cuda.h (given with --cuda), which shadow libcudart's and libcuda's,
    must each be a function cuda.h declares.
"""

import argparse
import fnmatch
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish  # noqa: E402


def map_names(path):
    """The patterns of the global: sections of a GNU ld version script."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"(#|//)[^\n]*", " ", text)
    names, section = [], None
    for tok in re.split(r"[;{}\s]+", text):
        if not tok:
            continue
        if tok.endswith(":"):
            section = tok[:-1]
            continue
        if section == "global":
            names.append(tok)
    return names


def exported(nm, lib, defined_only=True):
    """Dynamic symbols defined by lib (version suffixes stripped, version nodes skipped)."""
    args = [nm, "-D"] + (["--defined-only"] if defined_only else []) + [lib]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
    syms = set()
    for line in out.splitlines():
        w = line.split()
        if len(w) < 2:
            continue
        kind, name = w[-2], w[-1]
        if kind == "A":  # a version node's name, not code or data
            continue
        syms.add(name.split("@")[0])
    return syms


def libc_path(lib):
    out = subprocess.run(["ldd", lib], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"\blibc\.so\.6 => (\S+)", out)
    return m.group(1) if m else None


def cxx_runtime():
    """libstdc++.so.6 as the loader finds it, or None (then the C++ names go unchecked)."""
    out = subprocess.run(["ldconfig", "-p"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"\blibstdc\+\+\.so\.6 \(libc6,x86-64\) => (\S+)", out)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--cuda", help="shim/cuda.h: the CUDA functions the map may list")
    ap.add_argument("lib")
    ap.add_argument("map")
    a = ap.parse_args()
    cuda = set()
    if a.cuda:
        text = open(a.cuda, encoding="utf-8").read()
        cuda = set(re.findall(r"\bX\((cu\w+),", text))
        cuda |= set(re.findall(r"^int (cu\w+)\(", text, re.M))

    patterns = map_names(a.map)
    if not check(patterns, f"{a.map}: global: names found"):
        return finish("symbols")
    syms = exported(a.nm, a.lib)
    literal = [p for p in patterns if not any(c in p for c in "*?[")]
    for s in sorted(syms):
        check(any(fnmatch.fnmatchcase(s, p) for p in patterns),
              f"{a.lib}: exports '{s}', which {a.map} does not list")
    for p in literal:
        check(p in syms, f"{a.map}: lists '{p}', which {a.lib} does not export")

    libc = libc_path(a.lib)
    cxx = [p for p in literal if p.startswith("_Z")]
    if check(libc is not None, f"{a.lib}: ldd shows a libc.so.6"):
        libc_syms = exported(a.nm, libc)
        for p in literal:
            if p.startswith("mlchaos_") or p in cuda:  # its own entry points; CUDA's
                continue
            if p not in cxx:
                check(p in libc_syms, f"{a.map}: '{p}' is not a function of {libc}")
    stdcxx = cxx_runtime()
    if cxx and stdcxx:
        cxx_syms = exported(a.nm, stdcxx)
        for p in cxx:
            check(p in cxx_syms, f"{a.map}: '{p}' is not a function of {stdcxx}")
    print(f"symbols: {len(syms)} exported, {len(literal)} listed in {a.map}")
    return finish("symbols")


if __name__ == "__main__":
    sys.exit(main())
