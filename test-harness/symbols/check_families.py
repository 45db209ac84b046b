#!/usr/bin/python3
"""Checks the lists that name the interposed functions against each other and against the family
table, so that a family is added in one place and a forgotten list fails here, not in a host:

  - every function of shim/fn.h belongs to a family of shim/families.h (or is syscall, counted
    only), and every family has at least one function;
  - every function of fn.h has its real one in shim/real.h (MC_REAL_FNS) and is exported by
    shim/shim.map (else the host's calls would never reach the hook);
  - every family names the system calls that do its work (MC_FAMILY_SYSCALLS), which
    `mlchaos trace` warns of when a program makes them through syscall().

    check_families.py --shim DIR
"""

import argparse
import os
import re
import sys

COUNTED_ONLY = "COUNT"  # fn.h's family of syscall(): counted, never faulted


def read(shim, name):
    with open(os.path.join(shim, name), encoding="utf-8") as f:
        return f.read()


def fn_list(text):
    """[(function, family)] of MC_FN_LIST(X)."""
    body = text.split("#define MC_FN_LIST(X)", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"X\((\w+),\s*(\w+)\)", body)


def families(text):
    """The IDs of MC_FAMILIES(X), in table order."""
    body = text.split("#define MC_FAMILIES(X)", 1)[1]
    return re.findall(r"^\s*X\((\w+),\s*\"", body, re.M)


def syscall_families(text):
    """The family IDs of MC_FAMILY_SYSCALLS's rows X(ID, number)."""
    body = text.split("#define MC_FAMILY_SYSCALLS(X)", 1)[1].split("#define", 1)[0]
    return set(re.findall(r"X\((\w+),\s*\w+\)", body))


def real_fns(text):
    """The members of struct mc_real_fns: the rows X(ret, name, (params), (args)) of its list,
    and the variadic ones declared by hand (ret (*name)(...))."""
    rows = re.findall(r"X\([^,()]+,\s*(\w+),[\s\\]*\(", text)
    return set(rows) | set(re.findall(r"\(\*(\w+)\)\(", text))


def exported(text):
    """The names of shim.map's global: section."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    body = text.split("global:", 1)[1].split("local:", 1)[0]
    return {tok for tok in re.split(r"[;{}\s]+", body) if tok}


def problems(shim):
    fns = fn_list(read(shim, "fn.h"))
    table = read(shim, "families.h")
    ids = families(table)
    with_syscalls = syscall_families(table)
    real = real_fns(read(shim, "real.h"))
    exports = exported(read(shim, "shim.map"))
    out = []
    if not fns or not ids:
        return [f"nothing read: {len(fns)} functions in fn.h, {len(ids)} families"]
    for name, family in fns:
        if family not in ids and family != COUNTED_ONLY:
            out.append(f"fn.h: {name} belongs to {family}, which families.h does not have")
        if name not in real:
            out.append(f"real.h: no real function for {name} (fn.h lists it)")
        if name != "syscall" and name not in exports:
            out.append(f"shim.map: {name} is not exported (fn.h lists it)")
    used = {family for _name, family in fns}
    for family in ids:
        if family not in used:
            out.append(f"fn.h: family {family} of families.h has no function")
        if family not in with_syscalls:
            out.append(f"families.h: family {family} names no system call in "
                       f"MC_FAMILY_SYSCALLS")
    for family in with_syscalls - set(ids):
        out.append(f"families.h: MC_FAMILY_SYSCALLS names {family}, which is no family")
    print(f"{len(fns)} functions in {len(ids)} families checked against real.h, shim.map and "
          f"the families' system calls")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shim", required=True, help="the library's source directory")
    found = problems(ap.parse_args().shim)
    for p in found:
        print(f"FAIL: {p}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
