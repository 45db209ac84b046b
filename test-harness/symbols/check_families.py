#!/usr/bin/python3
"""Checks the lists that name the interposed functions against each other and against the family
table, so that a family is added in one place and a forgotten list fails here, not in a host:

  - every function of shim/fn.h belongs to a family of shim/families.h (or is syscall, counted
    only), and every family has at least one function;
  - every function of fn.h has its real one in shim/real.h (MC_REAL_FNS), or, for the CUDA
    functions, in shim/cuda.h's list (MC_CUDA_FNS, found on first use), in the same family, and
    is exported by shim/shim.map (else the host's calls would never reach the hook);
  - every family names the system calls that do its work (MC_FAMILY_SYSCALLS), which
    `mlchaos trace` warns of when a program makes them through syscall(), or is one of those
    whose work no system call of its own does (MC_FAMILIES_WITHOUT_SYSCALLS).

    check_families.py --shim DIR
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish  # noqa: E402

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


def no_syscall_families(text):
    """The family IDs of MC_FAMILIES_WITHOUT_SYSCALLS's rows X(ID)."""
    body = text.split("#define MC_FAMILIES_WITHOUT_SYSCALLS(X)", 1)[1].split("\n", 1)[0]
    return set(re.findall(r"X\((\w+)\)", body))


def cuda_fns(text):
    """{function: family} of shim/cuda.h's MC_CUDA_FNS(X) rows X(name, family, ...)."""
    body = text.split("#define MC_CUDA_FNS(X)", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"X\((\w+),\s*(\w+),", body))


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


def check_lists(shim):
    fns = fn_list(read(shim, "fn.h"))
    table = read(shim, "families.h")
    ids = families(table)
    with_syscalls = syscall_families(table)
    without_syscalls = no_syscall_families(table)
    real = real_fns(read(shim, "real.h"))
    cuda = cuda_fns(read(shim, "cuda.h"))
    exports = exported(read(shim, "shim.map"))
    if not check(fns and ids, f"fn.h and families.h read: {len(fns)} functions, "
                              f"{len(ids)} families"):
        return
    for name, family in fns:
        check(family in ids or family == COUNTED_ONLY,
              f"fn.h: {name} belongs to {family}, which families.h has")
        if name in cuda:
            check(cuda[name] == family,
                  f"cuda.h: {name} in family {family}, as fn.h says (it says {cuda[name]})")
        else:
            check(name in real, f"real.h: a real function for {name} (fn.h lists it)")
        check(name == "syscall" or name in exports,
              f"shim.map: {name} exported (fn.h lists it)")
    used = {family for _name, family in fns}
    for family in ids:
        check(family in used, f"fn.h: family {family} of families.h has a function")
        check(family in with_syscalls or family in without_syscalls,
              f"families.h: family {family} names its system calls in MC_FAMILY_SYSCALLS")
        check(not (family in with_syscalls and family in without_syscalls),
              f"families.h: family {family} has system calls or none, not both")
    for name, family in cuda.items():
        check((name, family) in fns, f"fn.h: {name} of cuda.h listed, in family {family}")
    for family in sorted(with_syscalls):
        check(family in ids, f"families.h: MC_FAMILY_SYSCALLS's {family} is a family")
    print(f"{len(fns)} functions in {len(ids)} families checked against real.h, shim.map and "
          f"the families' system calls")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shim", required=True, help="the library's source directory")
    check_lists(ap.parse_args().shim)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
