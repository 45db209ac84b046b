#!/usr/bin/env python3
"""mctest's own rules, by drivers that break them: `selftest.py MODE` runs one tiny driver;
with no MODE it runs each as a child and checks its exit status and what it said. A driver
that makes no check fails ("no check ran"), a skip exits 77 unless a check failed before it,
a failed check fails the run, and require() ends its case there."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mctest  # noqa: E402


def mode_none():
    return mctest.finish("none")


def mode_pass():
    mctest.check(True, "true holds")
    return mctest.finish("pass")


def mode_fail():
    mctest.check(False, "false holds")
    mctest.check(True, "true holds")
    return mctest.finish("fail")


def mode_skip():
    mctest.skip("nothing to test here")


def mode_fail_then_skip():
    mctest.check(False, "false holds")
    mctest.skip("nothing more to test here")


def mode_require():
    def case():
        mctest.require(False, "the first step")
        print("after the failed require")
    return mctest.run_case("require", case)


def mode_wait():
    return mctest.run_case("wait", lambda: mctest.wait_for(lambda: None, "nothing", 0.05))


MODES = {
    "none": mode_none, "pass": mode_pass, "fail": mode_fail, "skip": mode_skip,
    "fail-then-skip": mode_fail_then_skip, "require": mode_require, "wait": mode_wait,
}

# mode : (exit status, text its output must hold, text it must not)
WANT = {
    "none": (1, "FAIL: none: no check ran", None),
    "pass": (0, "pass: 1 checks passed", None),
    "fail": (1, "FAIL: false holds", None),
    "skip": (77, "skip: nothing to test here", None),
    "fail-then-skip": (1, "FAIL: skipped after failures", None),
    "require": (1, "FAIL: the first step", "after the failed require"),
    "wait": (1, "FAIL: timed out waiting for nothing", None),
}


def main():
    if len(sys.argv) > 1:
        return MODES[sys.argv[1]]()
    for mode, (rc, said, unsaid) in WANT.items():
        p = subprocess.run([sys.executable, os.path.abspath(__file__), mode],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        mctest.check(p.returncode == rc, f"{mode}: exit {p.returncode}, want {rc}\n{p.stdout}")
        mctest.check(said in p.stdout, f"{mode}: no '{said}' in:\n{p.stdout}")
        if unsaid:
            mctest.check(unsaid not in p.stdout, f"{mode}: '{unsaid}' in:\n{p.stdout}")
    return mctest.finish("selftest")


if __name__ == "__main__":
    sys.exit(main())
