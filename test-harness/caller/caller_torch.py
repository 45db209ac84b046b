#!/usr/bin/python3
"""A threaded PyTorch server (../real/torch_server.py: a ThreadingHTTPServer, a new thread per
connection) under malloc rules, through `mlchaos run`.

--case loader  hook = malloc, action = fail, phase = serve, rate = 10%, select = request,
               min_size = 4KiB: each new thread's first use of libtorch makes the dynamic
               loader allocate libtorch's thread-local block with malloc (9,777 bytes), which
               glibc aborts the process over when it fails. The rule spares it and says so in
               one loader_spared line; the selected requests get errors, the others 200, and
               the server keeps serving. With not_caller = libc.so*: PyTorch 1.13 reports a
               failed tensor allocation with a backtrace whose symbols libc's
               backtrace_symbols() allocates, and dereferences the NULL it returns when that
               allocation fails too (a SIGSEGV in c10::get_backtrace): libc's allocations are
               left alone so that the server lives to answer.
--case caller  the same rule, of any size, with caller = libtorch*: only allocations made by
               libtorch's own code fail (C++ new included: its caller is the code that
               said new) (every fault line's caller is a libtorch object), the selected
               requests get errors, the others 200, the server keeps serving.
Exit 77 when torch is not installed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "real")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, REAL)
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
SERVER = os.path.join(REAL, "torch_server.py")
INPUTS = [[((i * 7 + j * 3) % 11 - 5) / 5.0 for j in range(16)] for i in range(8)]
REQUESTS = 60

RULE = """\
[mlchaos]
seed = 18
log = {log}

[fault.oom]
hook = malloc
action = fail
phase = serve
rate = 10%
select = request
min_size = 4KiB
"""


def serve(a, tmp, text):
    """Starts the server under `mlchaos run` with the config text; sends REQUESTS keyed
    requests and a health check with a key the rule does not select; stops it. Returns
    (results by key, the selected keys, the health answer, exit status, stderr, log lines)."""
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    model = os.path.join(tmp, "model.pt")
    subprocess.run([PY, SERVER, "make", model], check=True, timeout=120, env=env)
    cfg = os.path.join(tmp, "chaos.ini")
    with open(cfg, "w") as f:
        f.write(text.format(log=os.path.join(tmp, "log-%p.jsonl")))
    keys = [f"req-{i}" for i in range(REQUESTS)]
    want = rsnet.selected_keys(a.mlchaos, cfg, "oom", keys + [f"h-{i}" for i in range(20)],
                               env)
    health_key = next(f"h-{i}" for i in range(20) if f"h-{i}" not in want)
    ready = os.path.join(tmp, "ready")
    p, port = rsnet.start_server([a.mlchaos, "run", "-c", cfg, "--", PY, SERVER, "serve",
                                  model, ready], env, tmp, "server", ready)
    results, health = {}, None
    try:
        mctest.require(port is not None, f"server listening: {p.stderr()[-2000:]}")
        for k in keys:
            results[k] = rsnet.request(port, "POST", "/predict", key=k, body={"inputs": INPUTS},
                                       timeout_s=120)
        health = rsnet.request(port, "GET", "/health", key=health_key, timeout_s=120)
    finally:
        rc = p.stop()
    lines = []
    for name in sorted(os.listdir(tmp)):
        if name.startswith("log-"):
            lines += mctest.read_log(os.path.join(tmp, name), mctest.fail)
    return results, want & set(keys), health, rc, p.stderr(), lines


def check_answers(what, results, want, health, rc, err):
    bad = sorted(k for k, r in results.items() if k not in want and r[0] != 200)
    mctest.check(not bad, f"{what}: every request not selected answered 200 (not: {bad[:5]} "
                          f"{[results[k][:2] for k in bad[:2]]})")
    ok = sorted(k for k in want if results[k][0] == 200)
    mctest.check(want and not ok, f"{what}: every selected request ({len(want)}) answered with "
                                  f"an error (200: {ok})")
    mctest.check(health is not None and health[0] == 200,
                 f"{what}: the server still serves after them: {health and health[:2]}")
    mctest.check(rc == 0 and "thread-local data" not in err,
                 f"{what}: the server ran until stopped (exit {rc}): {err.strip()[-400:]}")
    mctest.note(f"{what}: {len(want)} of {len(results)} requests selected, answered "
                f"{sorted(set(str(results[k][0]) for k in want))}")


def case_loader(a, tmp):
    results, want, health, rc, err, lines = serve(a, tmp, RULE + "not_caller = libc.so*\n")
    check_answers("loader", results, want, health, rc, err)
    spared = [e for e in lines if e.get("event") == "loader_spared"]
    mctest.check(len(spared) == 1, f"loader: one loader_spared line (got {len(spared)})")
    if spared:
        mctest.note(f"loader: spared {spared[0].get('size')} bytes of "
                    f"{spared[0].get('caller')}")
        mctest.check(spared[0].get("caller", "").startswith("ld-linux"),
                     f"loader: the spared allocation is the loader's: {spared[0]}")
    faults = [e for e in lines if e.get("event") == "fault"]
    mctest.check(faults and all(e.get("key") in want for e in faults),
                 f"loader: {len(faults)} faults, all in selected requests")
    mctest.check(not [e for e in faults if e.get("caller", "").startswith("ld-linux")],
                 "loader: no fault line is the loader's")


def case_caller(a, tmp):
    results, want, health, rc, err, lines = serve(a, tmp, RULE.replace("min_size = 4KiB\n", "caller = libtorch*\n"))
    check_answers("caller", results, want, health, rc, err)
    faults = [e for e in lines if e.get("event") == "fault"]
    callers = sorted({e.get("caller") for e in faults})
    mctest.note(f"caller: {len(faults)} faults, by {callers}")
    mctest.check(faults and all(c and c.startswith("libtorch") for c in callers),
                 f"caller: every fault line's caller is a libtorch object ({callers})")
    mctest.check(all(e.get("key") in want for e in faults),
                 "caller: every fault in a selected request")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--case", choices=("loader", "caller"), required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--skip")
    a = ap.parse_args()
    if a.skip:
        mctest.skip(a.skip)
    probe = subprocess.run([PY, "-c", "import torch"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import torch (Debian: apt-get install python3-torch)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-caller-torch-")
    try:
        mctest.fail_on_sigterm()
        return mctest.run_case(a.case, lambda: globals()["case_" + a.case](a, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
