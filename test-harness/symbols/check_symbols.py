#!/usr/bin/python3
"""Fails when libmlchaos.so exports anything but the libc names listed in shim.map.

Reads the `global:` names of the version script (so the list lives in one
place), lists `nm -D --defined-only` of the library, and reports:
  - exported symbols the map does not list (a helper that escaped
    -fvisibility=hidden, a static library's symbols, a sanitizer's);
  - names the map lists that the library does not export (a hook that lost
    its MC_EXPORT, so the host's calls would bypass the shim);
  - names the map lists that libc does not define (a typo, or a name that
    would shadow nothing).
"""

import argparse
import fnmatch
import re
import subprocess
import sys


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("lib")
    ap.add_argument("map")
    a = ap.parse_args()

    patterns = map_names(a.map)
    if not patterns:
        print(f"{a.map}: no global: names found", file=sys.stderr)
        return 1
    syms = exported(a.nm, a.lib)
    problems = 0

    extra = sorted(s for s in syms if not any(fnmatch.fnmatchcase(s, p) for p in patterns))
    for s in extra:
        print(f"{a.lib}: exports '{s}', which {a.map} does not list", file=sys.stderr)
    problems += len(extra)

    literal = [p for p in patterns if not any(c in p for c in "*?[")]
    missing = sorted(p for p in literal if p not in syms)
    for p in missing:
        print(f"{a.map}: lists '{p}', which {a.lib} does not export", file=sys.stderr)
    problems += len(missing)

    libc = libc_path(a.lib)
    if libc is None:
        print(f"{a.lib}: ldd shows no libc.so.6", file=sys.stderr)
        problems += 1
    else:
        libc_syms = exported(a.nm, libc)
        for p in literal:
            if p not in libc_syms:
                print(f"{a.map}: '{p}' is not a function of {libc}", file=sys.stderr)
                problems += 1

    if problems:
        print(f"symbols: {problems} problem(s)", file=sys.stderr)
        return 1
    print(f"symbols: {len(syms)} exported, all listed in {a.map} and defined by libc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
