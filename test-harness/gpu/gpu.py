#!/usr/bin/python3
"""The CUDA families through the real library, without a GPU: gpu-paths and gpu-plain (this
directory) run under `mlchaos run` against the stand-in libcuda.so.1 and libcudart.so.12, and
every case checks what the program saw (each call's return code, whether a kernel ran, whether
a copy's bytes arrived), the event log, and where it says so `mlchaos stats`, `mlchaos select`
and `mlchaos trace`. Every action is shown on every lookup path a program uses: the symbol it
linked (direct), dlsym on a dlopen handle, cuGetProcAddress, cuGetProcAddress_v2 with and
without symbolStatus, cuGetProcAddress_v2 found by dlsym (as libcudart finds it),
cudaGetDriverEntryPoint and cudaGetDriverEntryPointByVersion.

  alloc-fail       every allocation function, on every path its API has: error 2, one log
                   line each (fn, hook, action, error, size); min_size/max_size
  alloc-delay      delay: the call succeeds, no sooner than the delays asked
  budget           live device memory per device: the allocation that would pass it fails,
                   a free makes room again (frees keep it exact), the other device has its own,
                   pinned host memory does not count
  torch-retry      the PyTorch-like caching allocator frees its cache and retries once on
                   error 2: a budget still over fails the retry too, one that the freed cache
                   brings under lets it pass
  expandable       expandable segments (cuMemCreate + cuMemMap, never cudaMalloc) on every
                   driver path: fail and budget fail the granule and its retry
  launch-fail      every launch function: 700 by default, launch_failure 719, unknown 999, a
                   number; the kernel does not run; not sticky: the next launch runs
  launch-sticky    sticky = true: the failed launch poisons the context, every later call
                   (launches, allocations, copies, synchronisation, last error, device count)
                   returns the error and no kernel runs again
  launch-delay     delay: the kernel runs, no sooner than asked
  copy             every copy function: fail (data unchanged), error =, sticky, min_size and
                   max_size on the byte count, delay
  init             cuda_init fail: cuInit, cuDeviceGetCount and cudaGetDeviceCount answer 100
                   with a count of 0, as on a machine with no GPU (STANDIN_CUDA_DEVICES=0,
                   compared); times; delay
  request          select = request by X-Request-Id: the keys `mlchaos select` names fail all
                   their allocations, retry included, the others none; the log's key; phase
  times-shadow     times = N, after = N, shadow = true (would_inject, nothing injected)
  stats            `mlchaos stats --json` of a live process: matched, injected and applied per
                   rule, as many as the calls made, the calls that failed and the log's lines
  trace            `mlchaos trace`: calls per CUDA function, device memory allocated, bytes
                   copied each way, once per call (libcudart's own driver calls not twice);
                   the table's GPU section
  decided-once     a runtime call and the driver call libcudart makes for it: one decision,
                   one log line, named by the runtime function
  untouched        a process linked with no CUDA library under rules of every CUDA family:
                   the same output as without the library, no CUDA library loaded, no CUDA
                   name found by dlsym; a process that loads only the driver gets no runtime;
                   a process that dlopens libcudart is reached through dlsym on its handle
  scenarios        config/gpu-oom.ini, gpu-missing.ini, gpu-xid.ini: `mlchaos check` passes,
                   each states its hypothesis, and each does to gpu-paths what it says

usage: gpu.py --mlchaos MLCHAOS --paths GPU_PATHS --plain GPU_PLAIN --source SRCDIR
              [--env K=V]... CASE
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402
from mctest import check, require, note  # noqa: E402

DRIVER_PATHS = ("direct", "dlsym", "procaddr", "procaddr-v2", "procaddr-v2-null",
                "dlsym-procaddr-v2", "entrypoint", "entrypoint-version")
RUNTIME_PATHS = ("direct", "dlsym")
# op name -> the exported function a log line and a trace row name
DRIVER_ALLOCS = {"cuMemAlloc": "cuMemAlloc_v2", "cuMemAllocAsync": "cuMemAllocAsync",
                 "cuMemAllocPitch": "cuMemAllocPitch_v2", "cuMemAllocManaged": "cuMemAllocManaged",
                 "cuMemCreate": "cuMemCreate"}
RUNTIME_ALLOCS = {n: n for n in ("cudaMalloc", "cudaMallocAsync", "cudaMallocFromPoolAsync",
                                 "cudaMallocManaged", "cudaMallocPitch")}
PINNED_ALLOCS = {"cudaMallocHost": "cudaMallocHost", "cudaHostAlloc": "cudaHostAlloc"}
DRIVER_LAUNCHES = ("cuLaunchKernel", "cuLaunchKernelEx", "cuGraphLaunch")
RUNTIME_LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cudaGraphLaunch")
DRIVER_COPIES = {"cuMemcpyHtoD": "cuMemcpyHtoD_v2", "cuMemcpyDtoH": "cuMemcpyDtoH_v2",
                 "cuMemcpyHtoDAsync": "cuMemcpyHtoDAsync_v2",
                 "cuMemcpyDtoHAsync": "cuMemcpyDtoHAsync_v2"}
RUNTIME_COPIES = {"cudaMemcpyHtoD": "cudaMemcpy", "cudaMemcpyDtoH": "cudaMemcpy",
                  "cudaMemcpyAsyncHtoD": "cudaMemcpyAsync", "cudaMemcpyAsyncDtoH": "cudaMemcpyAsync"}
MiB = 1 << 20
HEAD = "[mlchaos]\nseed = 7\nlog = {log}\n"
ERRORS = {"out_of_memory": 2, "no_device": 100, "illegal_address": 700, "launch_failure": 719,
          "unknown": 999}

ARGS = None
# One run of a program: it makes a few hundred calls at most; a run past this hangs.
RUN_TIMEOUT_S = 20


def rule(name, **keys):
    return "\n[fault.%s]\n" % name + "".join("%s = %s\n" % (k, v) for k, v in keys.items())


def parse(line):
    parts = line.split()
    d = {"op": parts[0]}
    for kv in parts[1:]:
        k, _, v = kv.partition("=")
        d[k] = int(v) if k == "rc" or (v.isdigit() and k != "key") else v
    return d


class Runs(mctest.ChaosRuns):
    """gpu-paths and gpu-plain under `mlchaos run` (or bare), with the stand-ins found."""

    def __init__(self, tmp):
        super().__init__(ARGS.mlchaos, ARGS.env, tmp)
        self.env["LD_LIBRARY_PATH"] = os.path.dirname(os.path.abspath(ARGS.paths))
        self.env.pop("STANDIN_CUDA_DEVICES", None)
        self.env.pop("STANDIN_CUDA_MEMORY", None)

    def ops(self, path, ops, rules=None, env=None, head=HEAD, expect_rc=0):
        """Runs gpu-paths --path PATH OPS..., under rules (INI text after the [mlchaos]
        section) when given. Returns (the lines it printed, parsed; the log's fault and
        would_inject lines; seconds it took)."""
        config = None if rules is None else head + rules
        saved = dict(self.env)
        self.env.update(env or {})
        t0 = time.monotonic()
        try:
            p, log, _ = self.run([ARGS.paths, "--path", path] + list(ops), config, RUN_TIMEOUT_S)
        finally:
            self.env = saved
        took = time.monotonic() - t0
        require(p is not None, "gpu-paths %s %s: timed out" % (path, " ".join(ops[:6])))
        require(p.returncode == expect_rc,
                "gpu-paths --path %s %s: exit %d\n%s" % (path, " ".join(ops[:8]), p.returncode,
                                                         p.stderr[-2000:]))
        out = [parse(l) for l in p.stdout.splitlines() if l and not l.startswith("waiting")]
        faults = [e for e in log if e.get("event") in ("fault", "would_inject")]
        return out, faults, took


def same_rc(out, op, rc, what):
    for r in out:
        if r["op"] == op:
            check(r["rc"] == rc, "%s: %s returned %d, expected %d (%s)" % (what, op, r["rc"], rc, r))


def log_lines_match(faults, expected, what, **fields):
    """The log has exactly the lines expected (a list of fn names, in order), each with the
    fields given."""
    got = [f.get("fn") for f in faults]
    check(got == expected, "%s: the log's fn are %s, expected %s" % (what, got, expected))
    for f in faults:
        for k, v in fields.items():
            check(f.get(k) == v, "%s: log line %s=%r, expected %r: %s" % (what, k, f.get(k), v, f))


# ---- cases --------------------------------------------------------------------------------------


def alloc_sets(path):
    """The allocation ops a path reaches: the driver's on every path, the runtime's on two."""
    sets = dict(DRIVER_ALLOCS)
    if path in RUNTIME_PATHS:
        sets.update(RUNTIME_ALLOCS)
        sets.update(PINNED_ALLOCS)
    return sets


def case_alloc_fail(runs):
    fail = rule("oom", hook="cuda_alloc", action="fail", select="call")
    for path in DRIVER_PATHS:
        allocs = alloc_sets(path)
        ops = ["%s:2M" % op for op in allocs]
        out, faults, _ = runs.ops(path, ops)
        check([r["rc"] for r in out] == [0] * len(ops), "%s: without rules: %s" % (path, out))
        out, faults, _ = runs.ops(path, ops, fail)
        check([r["rc"] for r in out] == [2] * len(ops),
              "%s: every allocation fails with 2: %s" % (path, [(r["op"], r["rc"]) for r in out]))
        log_lines_match(faults, list(allocs.values()), path, hook="cuda_alloc", action="fail",
                        rule="oom", error="out_of_memory", size=2 * MiB, applied=True)
        # min_size and max_size: 1 MiB and 8 MiB pass, 2 MiB and 4 MiB fail
        sized = rule("sized", hook="cuda_alloc", action="fail", select="call",
                     min_size="2MiB", max_size="4MiB")
        for op in ("cuMemAlloc", "cudaMalloc") if path in RUNTIME_PATHS else ("cuMemAlloc",):
            out, faults, _ = runs.ops(path, ["%s:%s" % (op, s) for s in ("1M", "2M", "4M", "8M")],
                                      sized)
            check([r["rc"] for r in out] == [0, 2, 2, 0],
                  "%s %s: min_size/max_size: %s" % (path, op, [r["rc"] for r in out]))
            check([f.get("size") for f in faults] == [2 * MiB, 4 * MiB],
                  "%s %s: the sizes logged: %s" % (path, op, faults))
        # cuMemCreate: 2 MiB granules; 4 MiB passes min_size = 6MiB
        out, _, _ = runs.ops(path, ["cuMemCreate:4M", "cuMemCreate:8M"],
                             rule("big", hook="cuda_alloc", action="fail", select="call",
                                  min_size="6MiB"))
        check([r["rc"] for r in out] == [0, 2], "%s: cuMemCreate min_size: %s" % (path, out))


def case_alloc_delay(runs):
    delay = rule("slow", hook="cuda_alloc", action="delay", delay="20ms", select="call")
    for path in DRIVER_PATHS:
        allocs = alloc_sets(path)
        ops = ["%s:2M" % op for op in allocs]
        out, faults, took = runs.ops(path, ops, delay)
        check(all(r["rc"] == 0 for r in out), "%s: a delayed allocation succeeds: %s" % (path, out))
        log_lines_match(faults, list(allocs.values()), path, hook="cuda_alloc", action="delay",
                        delay_ns=20_000_000)
        check(took >= 0.02 * len(ops), "%s: %d delays of 20 ms took %.3f s" % (path, len(ops), took))
        # frees are never delayed nor failed
        out, faults, _ = runs.ops(path, ["cuMemAlloc:1M", "free"],
                                  rule("x", hook="cuda_alloc", action="fail", select="call",
                                       after="1"))
        check([r["rc"] for r in out] == [0, 0], "%s: a free is never failed: %s" % (path, out))


def case_budget(runs):
    budget = rule("budget", hook="cuda_alloc", action="fail", budget="4MiB", select="call")
    for path in DRIVER_PATHS:
        for op in alloc_sets(path):
            if op in PINNED_ALLOCS:
                continue
            ops = ["%s:2M" % op, "%s:2M" % op, "%s:2M" % op, "free", "%s:2M" % op,
                   "device:1", "%s:2M" % op, "%s:2M" % op, "%s:2M" % op]
            out, faults, _ = runs.ops(path, ops, budget)
            rcs = [r["rc"] for r in out]
            check(rcs == [0, 0, 2, 0, 0, 0, 0, 0, 2],
                  "%s %s: 4 MiB per device, frees counted: %s" % (path, op, rcs))
            check(len(faults) == 2 and all(f.get("error") == "out_of_memory" for f in faults),
                  "%s %s: two failures logged: %s" % (path, op, faults))
    for path in RUNTIME_PATHS:
        # pinned host memory is no device memory: 8 MiB of it under a 4 MiB budget
        out, _, _ = runs.ops(path, ["cudaMallocHost:8M", "cudaHostAlloc:8M", "cudaMalloc:4M",
                                    "cudaMalloc:1M"], budget)
        check([r["rc"] for r in out] == [0, 0, 0, 2], "%s: pinned memory: %s" % (path, out))
    # the runtime and the driver share one budget
    out, _, _ = runs.ops("direct", ["cudaMalloc:2M", "cuMemAlloc:2M", "cuMemCreate:2M",
                                    "cudaMallocManaged:2M"], budget)
    check([r["rc"] for r in out] == [0, 0, 2, 2], "runtime and driver together: %s" % out)
    # a genuine out-of-memory of the device is not the rule's
    out, faults, _ = runs.ops("direct", ["cudaMalloc:3M", "cudaMalloc:3M"], "",
                              env={"STANDIN_CUDA_MEMORY": str(4 * MiB)})
    check([r["rc"] for r in out] == [0, 2] and not faults, "the device's own OOM: %s" % out)


def case_torch_retry(runs):
    ops = ["torch:3M", "torch:1M", "torch-free", "torch:2M"]
    for path in RUNTIME_PATHS:
        out, faults, _ = runs.ops(path, ops, rule("b", hook="cuda_alloc", action="fail",
                                                  budget="4MiB", select="call"))
        last = out[-1]
        check(last["rc"] == 2 and last["attempts"] == 2 and last["cache_freed"] == 1,
              "%s: budget 4 MiB, 3 MiB live: the retry after freeing the cache fails: %s"
              % (path, last))
        check(len(faults) == 2 and all(f["fn"] == "cudaMalloc" for f in faults),
              "%s: both attempts logged: %s" % (path, faults))
        out, faults, _ = runs.ops(path, ops, rule("b", hook="cuda_alloc", action="fail",
                                                  budget="5MiB", select="call"))
        last = out[-1]
        check(last["rc"] == 0 and last["attempts"] == 2 and len(faults) == 1,
              "%s: budget 5 MiB: the freed cache makes room, the retry passes: %s %s"
              % (path, last, faults))
        out, faults, _ = runs.ops(path, ops, rule("f", hook="cuda_alloc", action="fail",
                                                  select="call", min_size="2MiB",
                                                  max_size="2MiB"))
        check(out[-1]["rc"] == 2 and out[-1]["attempts"] == 2 and len(faults) == 2,
              "%s: fail: the retry fails too: %s" % (path, out[-1]))
        # a reused cached block makes no call and meets no rule
        out, faults, _ = runs.ops(path, ["torch:2M", "torch-free", "torch:1M"],
                                  rule("f", hook="cuda_alloc", action="fail", select="call",
                                       after="1"))
        check(out[-1]["rc"] == 0 and out[-1]["reused"] == 1 and not faults,
              "%s: a cache hit: %s" % (path, out))


def case_expandable(runs):
    for path in DRIVER_PATHS:
        out, faults, _ = runs.ops(path, ["expand:4M", "expand-free", "expand:2M"])
        check([r["rc"] for r in out] == [0, 0, 0] and out[0]["data"] == "ok"
              and out[2]["reused"] == 1, "%s: without rules: %s" % (path, out))
        out, faults, _ = runs.ops(path, ["expand:2M"],
                                  rule("f", hook="cuda_alloc", action="fail", select="call"))
        check(out[0]["rc"] == 2 and out[0]["attempts"] == 2,
              "%s: fail: the granule and its retry fail: %s" % (path, out))
        log_lines_match(faults, ["cuMemCreate", "cuMemCreate"], path, error="out_of_memory",
                        size=2 * MiB)
        out, faults, _ = runs.ops(path, ["expand:4M", "expand:2M"],
                                  rule("b", hook="cuda_alloc", action="fail", budget="4MiB",
                                       select="call"))
        check(out[0]["rc"] == 0 and out[0]["mapped"] == 2 and out[1]["rc"] == 2
              and out[1]["attempts"] == 2,
              "%s: budget 4 MiB: 4 MiB mapped, the next granule and its retry fail: %s"
              % (path, out))
        # released granules give their memory back: the retry after releasing the cache passes
        out, faults, _ = runs.ops(path, ["expand:4M", "expand-free", "expand:4M"],
                                  rule("b", hook="cuda_alloc", action="fail", budget="6MiB",
                                       select="call"))
        last = out[-1]
        check(last["rc"] == 0 and last["attempts"] == 2 and last["cache_freed"] == 1
              and last["mapped"] == 2 and len(faults) == 1,
              "%s: budget 6 MiB: the released granule makes room for the retry: %s %s"
              % (path, out, faults))


def launch_ops(path):
    return DRIVER_LAUNCHES + (RUNTIME_LAUNCHES if path in RUNTIME_PATHS else ())


def case_launch_fail(runs):
    for path in DRIVER_PATHS:
        launches = launch_ops(path)
        out, _, _ = runs.ops(path, launches)
        check(all(r["rc"] == 0 and r["ran"] == 1 for r in out), "%s: without rules: %s" % (path, out))
        for error, code in (("", 700), ("illegal_address", 700), ("launch_failure", 719),
                            ("unknown", 999), ("42", 42)):
            keys = {"error": error} if error else {}
            out, faults, _ = runs.ops(path, launches,
                                      rule("xid", hook="cuda_launch", action="fail",
                                           select="call", **keys))
            check(all(r["rc"] == code and r["ran"] == 0 for r in out),
                  "%s error=%s: every launch fails with %d and runs nothing: %s"
                  % (path, error or "(default)", code, out))
            name = next((n for n, c in ERRORS.items() if c == code), None)
            log_lines_match(faults, list(launches), "%s error=%s" % (path, error),
                            hook="cuda_launch", action="fail", error=name if name else code)
        # not sticky: one failure, then everything works
        ops = [launches[0]] + list(launches) + ["cuMemAlloc:1M"]
        out, faults, _ = runs.ops(path, ops, rule("once", hook="cuda_launch", action="fail",
                                                  select="call", times="1"))
        check(out[0]["rc"] == 700 and all(r["rc"] == 0 for r in out[1:])
              and all(r["ran"] == 1 for r in out[1:-1]),
              "%s: a failure that is not sticky leaves the next launches alone: %s" % (path, out))


def sticky_ops(path):
    driver = ["cuLaunchKernel", "cuGraphLaunch", "cuMemAlloc:1M", "cuMemCreate:2M",
              "cuMemcpyHtoD:64", "cuMemcpyDtoH:64", "cuCtxSynchronize", "cuDeviceGetCount",
              "cuInit"]
    runtime = ["cudaLaunchKernel", "cudaMalloc:1M", "cudaMallocHost:1M", "cudaMemcpyHtoD:64",
               "cudaGetLastError", "cudaPeekAtLastError", "cudaDeviceSynchronize",
               "cudaStreamSynchronize", "cudaGetDeviceCount", "cudaGetLastError"]
    return driver + (runtime if path in RUNTIME_PATHS else [])


def case_launch_sticky(runs):
    for path in DRIVER_PATHS:
        for first, error, code in (("cuLaunchKernel", "", 700),
                                   ("cuLaunchKernelEx", "launch_failure", 719),
                                   ("cudaLaunchKernel", "illegal_address", 700),
                                   ("cudaGraphLaunch", "unknown", 999)):
            if first.startswith("cuda") and path not in RUNTIME_PATHS:
                continue
            keys = {"error": error} if error else {}
            later = sticky_ops(path)
            out, faults, _ = runs.ops(path, ["cuMemAlloc:1M", first] + later,
                                      rule("xid", hook="cuda_launch", action="fail",
                                           select="call", times="1", sticky="true", **keys))
            what = "%s %s sticky error=%s" % (path, first, error or "(default)")
            check(out[0]["rc"] == 0, "%s: before the failure: %s" % (what, out[0]))
            check(out[1]["rc"] == code and out[1]["ran"] == 0, "%s: %s" % (what, out[1]))
            for r in out[2:]:
                check(r["rc"] == code, "%s: after the poison, %s returned %d, expected %d"
                      % (what, r["fn"], r["rc"], code))
                check(r.get("ran", 0) == 0, "%s: a kernel ran in a poisoned context: %s"
                      % (what, r))
                if "data" in r:
                    check(r["data"] == "unchanged", "%s: a copy moved bytes: %s" % (what, r))
                if "count" in r:
                    check(r["count"] in (0, -1), "%s: a device count in a poisoned context: %s"
                          % (what, r))
            check(faults and faults[0].get("fn") == first and faults[0].get("sticky") in
                  (True, "true"), "%s: the poisoning failure is logged as sticky: %s"
                  % (what, faults[:1]))
    # cuda_copy can poison too
    for path in DRIVER_PATHS:
        out, _, _ = runs.ops(path, ["cuMemcpyHtoD:64", "cuLaunchKernel", "cuMemAlloc:1M",
                                    "cuMemcpyDtoH:64"],
                             rule("copy", hook="cuda_copy", action="fail", select="call",
                                  times="1", sticky="true"))
        check([r["rc"] for r in out] == [700] * 4 and out[1]["ran"] == 0
              and out[3]["data"] == "unchanged", "%s: a sticky copy failure: %s" % (path, out))


def case_launch_delay(runs):
    for path in DRIVER_PATHS:
        launches = launch_ops(path)
        out, faults, took = runs.ops(path, launches, rule("slow", hook="cuda_launch",
                                                          action="delay", delay="40ms",
                                                          select="call"))
        check(all(r["rc"] == 0 and r["ran"] == 1 for r in out),
              "%s: a delayed kernel runs: %s" % (path, out))
        log_lines_match(faults, list(launches), path, action="delay", delay_ns=40_000_000)
        check(took >= 0.04 * len(launches), "%s: %d delays of 40 ms took %.3f s"
              % (path, len(launches), took))


def case_copy(runs):
    for path in DRIVER_PATHS:
        copies = dict(DRIVER_COPIES)
        if path in RUNTIME_PATHS:
            copies.update(RUNTIME_COPIES)
        ops = ["%s:4096" % c for c in copies]
        out, _, _ = runs.ops(path, ops)
        check(all(r["rc"] == 0 and r["data"] == "ok" for r in out), "%s: plain: %s" % (path, out))
        for error, code in (("", 700), ("unknown", 999), ("launch_failure", 719)):
            keys = {"error": error} if error else {}
            out, faults, _ = runs.ops(path, ops, rule("cp", hook="cuda_copy", action="fail",
                                                      select="call", **keys))
            check(all(r["rc"] == code and r["data"] == "unchanged" for r in out),
                  "%s error=%s: every copy fails, no byte moves: %s" % (path, error, out))
            log_lines_match(faults, list(copies.values()), path, hook="cuda_copy",
                            action="fail", error=next(n for n, c in ERRORS.items() if c == code))
        # not sticky: the next copy works
        out, _, _ = runs.ops(path, ops + ops, rule("cp", hook="cuda_copy", action="fail",
                                                   select="call", times=str(len(ops))))
        check([r["rc"] for r in out] == [700] * len(ops) + [0] * len(ops),
              "%s: times: %s" % (path, [r["rc"] for r in out]))
        # min_size/max_size on the byte count
        sized = ["cuMemcpyHtoD:%d" % n for n in (1000, 4096, 65536, 1 << 20)]
        out, faults, _ = runs.ops(path, sized, rule("cp", hook="cuda_copy", action="fail",
                                                    select="call", min_size="4KiB",
                                                    max_size="64KiB"))
        check([r["rc"] for r in out] == [0, 700, 700, 0], "%s: min/max_size: %s" % (path, out))
        check([f.get("size") for f in faults] == [4096, 65536], "%s: sizes: %s" % (path, faults))
        # delay
        out, faults, took = runs.ops(path, ops[:3], rule("slow", hook="cuda_copy",
                                                         action="delay", delay="40ms",
                                                         select="call"))
        check(all(r["rc"] == 0 and r["data"] == "ok" for r in out) and len(faults) == 3
              and took >= 0.12, "%s: delay: %s %.3f s" % (path, out, took))


def case_init(runs):
    ops_for = {p: ["cuInit", "cuDeviceGetCount"] + (["cudaGetDeviceCount"] if p in RUNTIME_PATHS
                                                     else []) for p in DRIVER_PATHS}
    # what a machine without a GPU answers
    bare, _, _ = runs.ops("direct", ["cudaGetDeviceCount", "cuInit"],
                          env={"STANDIN_CUDA_DEVICES": "0"})
    check([r["rc"] for r in bare] == [100, 100] and bare[0]["count"] == 0,
          "no GPU: %s" % bare)
    for path in DRIVER_PATHS:
        ops = ops_for[path]
        out, _, _ = runs.ops(path, ops)
        check(all(r["rc"] == 0 for r in out) and all(r.get("count", 2) == 2 for r in out),
              "%s: 2 devices without rules: %s" % (path, out))
        out, faults, _ = runs.ops(path, ops, rule("nogpu", hook="cuda_init", action="fail"))
        check(all(r["rc"] == 100 for r in out), "%s: no device: %s" % (path, out))
        check(all(r["count"] == 0 for r in out if "count" in r), "%s: a count of 0: %s"
              % (path, out))
        log_lines_match(faults, ops, path,
                        hook="cuda_init", action="fail", error="no_device")
        out, _, _ = runs.ops(path, ["cuInit", "cuDeviceGetCount", "cuDeviceGetCount"],
                             rule("once", hook="cuda_init", action="fail", select="call",
                                  after="1", times="1"))
        check([(r["rc"], r.get("count")) for r in out] == [(0, None), (100, 0), (0, 2)],
              "%s: after = 1, times = 1: %s" % (path, out))
    for path in DRIVER_PATHS:
        ops = ops_for[path]
        out, faults, took = runs.ops(path, ops, rule("slow", hook="cuda_init", action="delay",
                                                     delay="30ms"))
        check(all(r["rc"] == 0 for r in out) and took >= 0.03 * len(ops)
              and len(faults) == len(ops), "%s: cuda_init delay: %s %.3f s" % (path, out, took))


def select(cfg, rule_name, keys):
    p = subprocess.run([ARGS.mlchaos, "select", "-c", cfg, rule_name, "--"] + keys,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    require(p.returncode == 0, "mlchaos select: %s" % p.stderr)
    return {l.split()[0] for l in p.stdout.splitlines() if l.split()[1] == "selected"}


def case_request(runs):
    rules = rule("per-request", hook="cuda_alloc", action="fail", rate="40%",
                 select="request")
    head = "[mlchaos]\nseed = 11\nrequest_key = header:X-Request-Id\nlog = {log}\n"
    keys = ["req-%03d" % i for i in range(40)]
    cfg = os.path.join(runs.tmp, "select.ini")
    with open(cfg, "w") as f:
        f.write(head.replace("{log}", os.path.join(runs.tmp, "unused.jsonl")) + rules)
    chosen = select(cfg, "per-request", keys)
    check(0 < len(chosen) < len(keys), "40%% of 40 keys: %d selected" % len(chosen))
    for path, alloc in (("direct", "torch"), ("dlsym", "torch"), ("procaddr-v2", "cuMemAlloc"),
                        ("entrypoint", "cuMemCreate")):
        ops = []
        for i, k in enumerate(keys):
            # torch: a size no cached block holds, so that each request allocates
            size = "%dK" % (64 * (i + 1)) if alloc == "torch" else "2M"
            ops += ["request:" + k, "%s:%s" % (alloc, size), "%s:%s" % (alloc, size)]
            ops += ["torch-free", "torch-free"] if alloc == "torch" else ["free", "free"]
        out, faults, _ = runs.ops(path, ops, rules, head=head)
        allocs = [r for r in out if r["op"] == alloc]
        for r in allocs:
            want = 2 if r["key"] in chosen else 0
            check(r["rc"] == want, "%s: key %s (%s): %s returned %d" % (
                path, r["key"], "selected" if want else "not selected", alloc, r["rc"]))
            if alloc == "torch" and want:
                check(r["attempts"] == 2, "%s: %s: the retry was made and failed: %s"
                      % (path, r["key"], r))
        check({f["key"] for f in faults} == chosen, "%s: the log's keys are the selected ones"
              % path)
        check(all(f.get("phase") == "serve" for f in faults), "%s: phase serve" % path)
    # phase: load lasts until the first request arrives
    out, faults, _ = runs.ops("procaddr", ["cuMemAlloc:1M", "cuMemAlloc:1M", "request:k1",
                                           "cuMemAlloc:1M"],
                              rule("serving", hook="cuda_alloc", action="fail", phase="serve",
                                   select="call"))
    check([r["rc"] for r in out if r["op"] == "cuMemAlloc"] == [0, 0, 2],
          "phase = serve: %s" % out)
    out, faults, _ = runs.ops("procaddr", ["cuMemAlloc:1M", "request:k1", "cuMemAlloc:1M"],
                              rule("loading", hook="cuda_alloc", action="fail", phase="load",
                                   select="call"))
    check([r["rc"] for r in out if r["op"] == "cuMemAlloc"] == [2, 0]
          and [f.get("phase") for f in faults] == ["load"], "phase = load: %s %s" % (out, faults))


def case_times_shadow(runs):
    for path in ("direct", "procaddr-v2-null", "entrypoint-version"):
        out, faults, _ = runs.ops(path, ["cuMemAlloc:1M"] * 6,
                                  rule("t", hook="cuda_alloc", action="fail", select="call",
                                       after="2", times="3"))
        check([r["rc"] for r in out] == [0, 0, 2, 2, 2, 0], "%s: after 2, times 3: %s"
              % (path, [r["rc"] for r in out]))
        check([f.get("call") for f in faults] == [3, 4, 5], "%s: the log's call numbers: %s"
              % (path, faults))
        out, faults, _ = runs.ops(path, ["cuMemAlloc:1M", "cuLaunchKernel", "cuMemcpyHtoD:64"],
                                  rule("a", hook="cuda_alloc", action="fail", shadow="true")
                                  + rule("l", hook="cuda_launch", action="fail", shadow="true",
                                         sticky="true")
                                  + rule("c", hook="cuda_copy", action="fail", shadow="true"))
        check([r["rc"] for r in out] == [0, 0, 0] and out[1]["ran"] == 1,
              "%s: shadow injects nothing: %s" % (path, out))
        check([(f.get("event"), f.get("fn")) for f in faults] ==
              [("would_inject", "cuMemAlloc_v2"), ("would_inject", "cuLaunchKernel"),
               ("would_inject", "cuMemcpyHtoD_v2")], "%s: shadow logs: %s" % (path, faults))


def stats_of(runs, path, ops, rules):
    """Runs gpu-paths OPS... wait under rules and returns (its lines, the stats of its rules by
    name, its log's fault lines)."""
    rundir = os.path.join(runs.tmp, "stats-%d" % len(os.listdir(runs.tmp)))
    os.mkdir(rundir)
    cfg = os.path.join(rundir, "chaos.ini")
    with open(cfg, "w") as f:
        f.write(HEAD.replace("{log}", os.path.join(rundir, "log.jsonl")) + rules)
    proc = mctest.Proc([ARGS.mlchaos, "run", "-c", cfg, "--", ARGS.paths, "--path", path]
                       + ops + ["wait"], runs.env, os.path.join(rundir, "stderr"),
                       stdin=subprocess.PIPE)
    try:
        line = proc.wait_line("waiting pid=", 60)
        require(line, "gpu-paths did not reach its wait: %s" % proc.stderr())
        pid = line.split("=")[1]
        st = subprocess.run([ARGS.mlchaos, "stats", "--json", pid], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=60)
        require(st.returncode == 0, "mlchaos stats: %s" % st.stderr)
        doc = json.loads(st.stdout)
        proc.send(b"\n")
        require(proc.wait(60) == 0, "gpu-paths exit: %s" % proc.stderr())
    finally:
        proc.stop()
    rules_by_name = {r["name"]: r for r in doc["processes"][0]["rules"]}
    out = [parse(l) for l in proc.stdout().splitlines() if l and not l.startswith("waiting")]
    log = mctest.read_log(os.path.join(rundir, "log.jsonl"), mctest.fail)
    return out, rules_by_name, [e for e in log if e.get("event") == "fault"]


def case_stats(runs):
    rules = (rule("alloc", hook="cuda_alloc", action="fail", select="call", after="1")
             + rule("launch", hook="cuda_launch", action="fail", select="call", times="2")
             + rule("copy", hook="cuda_copy", action="delay", delay="1ms", select="call")
             + rule("init", hook="cuda_init", action="fail", select="call", after="1",
                    times="1"))
    for path in ("direct", "dlsym-procaddr-v2", "entrypoint"):
        ops = (["cuInit", "cuDeviceGetCount", "cuDeviceGetCount", "cuMemAlloc:1M", "cuMemAlloc:1M",
                "cuMemCreate:2M"] + ["cuLaunchKernel"] * 4 + ["cuMemcpyHtoD:10", "cuMemcpyDtoH:10"])
        if path in RUNTIME_PATHS:
            ops += ["cudaMalloc:1M", "cudaLaunchKernel", "cudaMemcpyHtoD:10"]
        out, st, faults = stats_of(runs, path, ops, rules)
        n_alloc = sum(1 for r in out if r["op"] in DRIVER_ALLOCS or r["op"] in RUNTIME_ALLOCS)
        n_launch = sum(1 for r in out if r["op"] in DRIVER_LAUNCHES + RUNTIME_LAUNCHES)
        n_copy = sum(1 for r in out if r["op"] in DRIVER_COPIES or r["op"] in RUNTIME_COPIES)
        expect = {"alloc": (n_alloc, n_alloc - 1), "launch": (n_launch, 2),
                  "copy": (n_copy, n_copy), "init": (3, 1)}
        for name, (matched, injected) in expect.items():
            r = st.get(name)
            require(r, "%s: stats has rule %s: %s" % (path, name, st))
            # a CUDA rule's matched calls are counted exactly, live
            check(r["matched"] == matched and r["injected"] == injected
                  and r["applied"] == injected,
                  "%s: rule %s: matched %d injected %d applied %d, expected %d, %d"
                  % (path, name, r["matched"], r["injected"], r["applied"], matched, injected))
            check(sum(1 for f in faults if f["rule"] == name) == injected,
                  "%s: rule %s: the log has a line per injected fault" % (path, name))
        failed = sum(1 for r in out if r["rc"] != 0)
        check(failed == n_alloc - 1 + 2 + 1, "%s: the calls that failed: %d (%s)"
              % (path, failed, out))


def trace_run(runs, path, ops):
    jf = os.path.join(runs.tmp, "trace-%d.json" % len(os.listdir(runs.tmp)))
    p = subprocess.run([ARGS.mlchaos, "trace", "--json", jf, "--", ARGS.paths, "--path", path]
                       + ops, env=runs.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    require(p.returncode == 0, "trace %s: %s" % (path, p.stderr[-2000:]))
    docs = [json.loads(l) for l in open(jf) if l.strip()]
    require(len(docs) == 1, "trace: one process: %d" % len(docs))
    rows = [r for r in docs[0].get("calls", []) if str(r.get("target", "")).startswith("gpu:")]
    return p, rows


def rows_of(rows, fn, target=None):
    sel = [r for r in rows if r["fn"] == fn and (target is None or r["target"] == target)]
    return sum(r["calls"] for r in sel), sum(r.get("bytes", 0) for r in sel)


def case_trace(runs):
    for path in DRIVER_PATHS:
        ops = ["cuInit", "cuMemAlloc:1M", "cuMemAlloc:2M", "cuMemCreate:2M",
               "cuMemcpyHtoD:1000", "cuMemcpyHtoD:24", "cuMemcpyDtoH:500", "cuLaunchKernel",
               "cuLaunchKernel"]
        if path in RUNTIME_PATHS:
            ops += ["cudaMalloc:4M", "cudaMalloc:1M", "cudaMallocHost:1M", "cudaMemcpyHtoD:300",
                    "cudaMemcpyDtoH:700", "cudaLaunchKernel", "cudaGetDeviceCount"]
        p, rows = trace_run(runs, path, ops)
        section = p.stderr[p.stderr.find("GPU ("):] if "GPU (" in p.stderr else ""
        check(section and "cuMemAlloc_v2" in section and "gpu:device-memory" in section,
              "%s: the table has a GPU section with its rows:\n%s" % (path, p.stderr[-3000:]))
        want = {("cuMemAlloc_v2", "gpu:device-memory"): (2, 3 * MiB),
                ("cuMemCreate", "gpu:device-memory"): (1, 2 * MiB),
                ("cuMemcpyHtoD_v2", "gpu:host-to-device"): (2, 1024),
                ("cuMemcpyDtoH_v2", "gpu:device-to-host"): (1, 500),
                ("cuLaunchKernel", None): (2, None), ("cuInit", None): (1, None)}
        if path in RUNTIME_PATHS:
            want.update({("cudaMalloc", "gpu:device-memory"): (2, 5 * MiB),
                         ("cudaMemcpy", "gpu:host-to-device"): (1, 300),
                         ("cudaMemcpy", "gpu:device-to-host"): (1, 700),
                         ("cudaLaunchKernel", None): (1, None),
                         ("cudaGetDeviceCount", None): (1, None)})
        for (fn, target), (calls, nbytes) in want.items():
            got_calls, got_bytes = rows_of(rows, fn, target)
            check(got_calls == calls and (nbytes is None or got_bytes == nbytes),
                  "%s: trace %s %s: %d calls %d bytes, expected %d calls %s bytes"
                  % (path, fn, target, got_calls, got_bytes, calls, nbytes))
        # device memory once: cudaMalloc's own driver call is not another row's bytes
        dev = sum(r.get("bytes", 0) for r in rows if r["target"] == "gpu:device-memory")
        want_dev = 5 * MiB + (5 * MiB if path in RUNTIME_PATHS else 0)
        check(dev == want_dev, "%s: device memory allocated %d, expected %d: %s"
              % (path, dev, want_dev, rows))
        check(not any(r["target"] == "gpu:device-memory" and r["fn"] == "cudaMallocHost"
                      for r in rows), "%s: pinned memory is no device memory: %s" % (path, rows))


def case_decided_once(runs):
    for path in RUNTIME_PATHS:
        out, faults, _ = runs.ops(path, ["cudaMalloc:1M", "cudaMallocAsync:1M", "cudaMemcpyHtoD:64",
                                         "cudaLaunchKernel"],
                                  rule("a", hook="cuda_alloc", action="delay", delay="1ms",
                                       select="call")
                                  + rule("c", hook="cuda_copy", action="delay", delay="1ms",
                                         select="call")
                                  + rule("l", hook="cuda_launch", action="delay", delay="1ms",
                                         select="call"))
        check(all(r["rc"] == 0 for r in out), "%s: %s" % (path, out))
        log_lines_match(faults, ["cudaMalloc", "cudaMallocAsync", "cudaMemcpy",
                                 "cudaLaunchKernel"], "%s: one decision per runtime call" % path)
        # after = 1 on the family: the runtime call is the first, its driver call no second
        out, faults, _ = runs.ops(path, ["cudaMalloc:1M", "cudaMalloc:1M", "cudaMalloc:1M"],
                                  rule("a", hook="cuda_alloc", action="fail", select="call",
                                       after="1", times="1"))
        check([r["rc"] for r in out] == [0, 2, 0], "%s: after 1, times 1: %s" % (path, out))


def plain(runs, mode, rules=None, trace=False):
    argv = [ARGS.plain, mode]
    if trace:
        argv = [ARGS.mlchaos, "trace", "--"] + argv
    p, log, _ = runs.run(argv, None if rules is None else HEAD + rules, RUN_TIMEOUT_S)
    require(p is not None, "gpu-plain %s timed out" % mode)
    return p, log


def case_untouched(runs):
    every = (rule("a", hook="cuda_alloc", action="fail")
             + rule("l", hook="cuda_launch", action="fail", sticky="true")
             + rule("c", hook="cuda_copy", action="fail")
             + rule("i", hook="cuda_init", action="fail"))
    bare, _ = plain(runs, "none")
    require(bare.returncode == 0, "gpu-plain alone: %s" % bare.stderr)
    check("loaded=none" in bare.stdout and "work=ok" in bare.stdout, bare.stdout)
    for rules, trace in ((every, False), ("", False), (None, True)):
        p, log = plain(runs, "none", rules, trace)
        what = "trace" if trace else ("rules" if rules else "no rules")
        check(p.returncode == 0, "%s: exit %d: %s" % (what, p.returncode, p.stderr))
        check(p.stdout == bare.stdout, "%s: the output differs from the run without the library:"
              "\n%s\n--- without:\n%s" % (what, p.stdout, bare.stdout))
        check(not [e for e in log if e.get("event") == "fault"], "%s: faults logged: %s"
              % (what, log))
    # a process that loads the driver alone does not get the runtime
    p, _ = plain(runs, "driver-only", every)
    check(p.returncode == 0 and "cuInit rc=100" in p.stdout
          and "loaded=libcuda.so.1\n" in p.stdout,
          "driver only: %s %s" % (p.stdout, p.stderr))
    # a process that dlopens the runtime: reached through dlsym on its handle
    p, log = plain(runs, "runtime-dl", rule("a", hook="cuda_alloc", action="fail"))
    check(p.returncode == 0 and "cudaMalloc rc=2" in p.stdout and "kernel ran=1" in p.stdout
          and "loaded=libcuda.so.1,libcudart.so.12" in p.stdout,
          "runtime by dlopen: %s %s" % (p.stdout, p.stderr))
    p, log = plain(runs, "runtime-dl", rule("l", hook="cuda_launch", action="fail"))
    check("cudaMalloc rc=0" in p.stdout and "cudaLaunchKernel rc=700" in p.stdout
          and "kernel ran" not in p.stdout, "runtime by dlopen, launch: %s" % p.stdout)


def case_scenarios(runs):
    src = ARGS.source
    for name in ("gpu-oom.ini", "gpu-missing.ini", "gpu-xid.ini"):
        path = os.path.join(src, "config", name)
        p = subprocess.run([ARGS.mlchaos, "check", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        check(p.returncode == 0, "mlchaos check %s: %s%s" % (name, p.stdout, p.stderr))
        text = open(path).read()
        check(re.search(r"(?im)^; .*hypothesis", text), "%s states no hypothesis" % name)
        readme = open(os.path.join(src, "README.md")).read()
        check(name in readme, "README.md does not name %s" % name)

    def scenario(name):
        text = open(os.path.join(src, "config", name)).read()
        text = re.sub(r"(?m)^log = .*$", "", text)
        return text.replace("[mlchaos]\n", "[mlchaos]\nlog = {log}\n", 1)

    # gpu-missing: no device, whichever way the program asks
    out, faults, _ = runs.ops("direct", ["cudaGetDeviceCount", "cuInit", "cuDeviceGetCount"],
                              scenario("gpu-missing.ini"), head="")
    check([(r["rc"], r.get("count")) for r in out] == [(100, 0), (100, None), (100, 0)],
          "gpu-missing: %s" % out)
    # gpu-xid: launches run while loading and for a while serving, then one fails with an
    # illegal address and everything after it
    ops = ["cudaLaunchKernel"] * 3 + ["request:r1"] + ["cudaLaunchKernel"] * 120
    ops += ["cudaMalloc:1M", "cudaMemcpyHtoD:64", "cudaDeviceSynchronize"]
    out, faults, _ = runs.ops("direct", ops, scenario("gpu-xid.ini"), head="")
    rcs = [r["rc"] for r in out if r["op"] != "request"]
    first = next((i for i, rc in enumerate(rcs) if rc), None)
    check(first is not None and first > 3 and all(rc == 700 for rc in rcs[first:]),
          "gpu-xid: one launch fails with 700, and every call after it: %s" % rcs)
    # gpu-oom: while loading, every allocation passes; serving, the requests the rule selects
    # fail theirs, retry included, the others do not
    cfg = os.path.join(runs.tmp, "gpu-oom.ini")
    with open(cfg, "w") as f:
        f.write(scenario("gpu-oom.ini").replace("{log}", os.path.join(runs.tmp, "x.jsonl")))
    keys = ["q%02d" % i for i in range(60)]
    rule_name = re.search(r"(?m)^\[fault\.([^\]]+)\]", open(cfg).read()).group(1)
    chosen = select(cfg, rule_name, keys)
    ops = ["torch:%dM" % (i + 1) for i in range(4)]
    for i, k in enumerate(keys):
        ops += ["request:" + k, "torch:%dK" % (4096 + 64 * (i + 1)), "torch-free"]
    out, faults, _ = runs.ops("direct", ops, scenario("gpu-oom.ini"), head="")
    torch = [r for r in out if r["op"] == "torch"]
    check(all(r["rc"] == 0 for r in torch[:4]), "gpu-oom: the model loads: %s" % torch[:4])
    for r in torch[4:]:
        want = 2 if r["key"] in chosen else 0
        check(r["rc"] == want and (not want or r["attempts"] == 2),
              "gpu-oom: request %s: %s" % (r["key"], r))
    check(0 < len(chosen) < len(keys), "gpu-oom selects some requests: %d" % len(chosen))


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--paths", required=True)
    ap.add_argument("--plain", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("case", choices=sorted(CASES))
    ARGS = ap.parse_args()
    mctest.fail_on_sigterm()
    case = CASES[ARGS.case]
    sys.exit(mctest.in_tmpdir("mlchaos-gpu-", lambda tmp: mctest.run_case(
        ARGS.case, lambda: case(Runs(tmp)))))


if __name__ == "__main__":
    main()
