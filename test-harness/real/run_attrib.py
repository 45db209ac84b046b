#!/usr/bin/python3
"""Request attribution in three server shapes: no request that `select = request` does not
select is faulted, and how many of the selected ones are is measured.

Each server (--shape) serves a PyTorch model (attrib_server.py) or, for node, an ONNX model
with onnxruntime-node (onnx_server.js), on 127.0.0.1 under `mlchaos run`, and answers 200
requests from 8 clients at once (keep-alive connections), each request with its own
X-Request-Id, under two configs in turn:
  alloc  hook = malloc, action = fail, phase = serve, rate = 10%, select = request,
         min_size = max_size = 1KiB: a selected request is one whose 1 KiB allocations fail
         (the model's hidden activations are 1 KiB): it is answered 500, or not at all
  send   hook = send, action = delay, delay = 300ms, rate = 20%, select = request
A request is faulted when its answer is not the 200 the model gives (alloc), or when the log
has a fault on its key (send). Precision: the faulted requests that `mlchaos select` names,
over the faulted; it must be 1.00 (alloc: also every fault the log has is on a selected
key). Recall: the selected requests that were faulted, over the selected; printed, and
checked against --min-recall. The log's ambiguous lines (calls not acted on: the thread had
several requests in flight) are counted, printed, and counted alike by `mlchaos report`. On
FastAPI, the allocation rule with `ambiguous = last` too: no ambiguous line, and how many
requests it faulted that it does not select is printed.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
CLIENTS = 8
REQUESTS = 200
TIMEOUT_S = 120
START_DEADLINE_S = 180
DELAY_S = 0.3
ALLOC_RULE = """[fault.alloc]
hook = malloc
action = fail
phase = serve
rate = 10%
select = request
min_size = 1KiB
max_size = 1KiB
"""
RULES = {
    "alloc": ALLOC_RULE,
    # the allocation rule acting by the key read last when several requests are in flight
    "alloc-last": ALLOC_RULE + "ambiguous = last\n",
    "send": f"""[fault.slow]
hook = send
action = delay
delay = {int(DELAY_S * 1000)}ms
phase = serve
rate = 20%
select = request
""",
}


def server_argv(shape, tmp, ready):
    if shape == "node":
        import onnx_model
        model = os.path.join(tmp, "model.onnx")
        onnx_model.write(model)
        return ["node", os.path.join(HERE, "onnx_server.js"), "path", model, ready]
    return [PY, os.path.join(HERE, "attrib_server.py"), shape, ready]


def body_for(shape, i):
    n = 64 if shape == "node" else 16
    return json.dumps({"x": [((i * 7 + j) % 13) / 13.0 for j in range(n)]}).encode()


def client(port, shape, jobs, lock, results):
    conn = None
    while True:
        with lock:
            if not jobs:
                break
            i = jobs.pop()
        key = f"req-{i:04d}"
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
            conn.request("POST", "/predict", body=body_for(shape, i),
                         headers={"X-Request-Id": key, "Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            out = (resp.status, raw)
        except (ConnectionError, http.client.HTTPException, socket.timeout, OSError) as e:
            out = (type(e).__name__, b"")
            conn.close()
            conn = None
        with lock:
            results[key] = out
    if conn is not None:
        conn.close()


def serve(a, tmp, shape, label):
    """Runs the server under config `label`; returns (config, answers by key, log lines)."""
    log = os.path.join(tmp, f"{label}-%p.jsonl")
    cfg = os.path.join(tmp, f"{label}.ini")
    with open(cfg, "w") as f:
        f.write(f"[mlchaos]\nseed = 21\nlog = {log}\n\n" + RULES[label])
    ready = os.path.join(tmp, f"{label}.ready")
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    if shape == "node":
        env["NODE_PATH"] = os.path.join(HERE, "node_modules")
    p, port = rsnet.start_server([a.mlchaos, "run", "-c", cfg, "--"] +
                                 server_argv(shape, tmp, ready), env, tmp, label, ready,
                                 START_DEADLINE_S)
    results, lock = {}, threading.Lock()
    try:
        mctest.require(port is not None, f"{shape}/{label}: the server did not start: "
                                         f"{p.stderr()[-2000:]}")
        jobs = list(range(REQUESTS))[::-1]
        threads = [threading.Thread(target=client, args=(port, shape, jobs, lock, results))
                   for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        mctest.check(p.alive(), f"{shape}/{label}: the server is still running")
    finally:
        p.stop(30)
    lines, logs = [], []
    for name in os.listdir(tmp):
        if name.startswith(f"{label}-") and name.endswith(".jsonl"):
            logs.append(os.path.join(tmp, name))
            lines += mctest.read_log(logs[-1], mctest.fail)
    return cfg, env, results, lines, logs


def ratio(n, d):
    return n / d if d else 1.0


def ambiguous_on_record(a, shape, env, ambiguous, logs):
    """The ambiguous lines name the rule, the function and a key, and `mlchaos report`
    counts them."""
    mctest.check(all(l.get("rule") == "alloc" and l.get("hook") == "malloc" and l.get("fn")
                     and l.get("key") and l.get("phase") == "serve" for l in ambiguous),
                 f"{shape}: every ambiguous line names the rule, hook, function, key, phase")
    p = subprocess.run([a.mlchaos, "report", "--json"] + logs, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    got = json.loads(p.stdout).get("ambiguous") if p.returncode == 0 else None
    mctest.check(got == len(ambiguous), f"{shape}: `mlchaos report` counts the "
                                        f"{len(ambiguous)} ambiguous calls: {got}")


def measure(a, tmp, shape, label):
    cfg, env, results, lines, logs = serve(a, tmp, shape, label)
    keys = sorted(results)
    mctest.check(len(keys) == REQUESTS, f"{shape}/{label}: {len(keys)} answers")
    rule = "slow" if label == "send" else "alloc"
    want = rsnet.selected_keys(a.mlchaos, cfg, rule, keys, env)
    faults = [l for l in lines if l.get("event") == "fault" and l.get("rule") == rule]
    ambiguous = [l for l in lines if l.get("event") == "ambiguous"]
    logged = {l.get("key") for l in faults}
    if label == "alloc-last":
        # acting by the key read last: no call is left alone, some may hit another request
        mctest.check(not ambiguous, f"{shape}/{label}: no ambiguous line")
        good = {k for k, (st, _) in results.items() if st == 200}
        print(f"{shape} {label}: {len(want)} selected, {len(set(keys) - good)} faulted, "
              f"{len((set(keys) - good) - want)} of them not selected")
        return
    if label == "alloc":
        if ambiguous:
            ambiguous_on_record(a, shape, env, ambiguous, logs)
        good = {k for k, (st, _) in results.items() if st == 200}
        faulted = set(keys) - good
        mctest.check(logged <= want, f"{shape}/{label}: every fault logged is on a selected "
                                     f"key: {sorted(logged - want)[:5]} are not")
    else:
        faulted = logged
        bad = {k for k, (st, _) in results.items() if st != 200}
        mctest.check(not bad, f"{shape}/{label}: every answer is a 200: "
                              f"{[(k, results[k]) for k in sorted(bad)[:3]]}")
    hit = faulted & want
    precision, recall = ratio(len(hit), len(faulted)), ratio(len(hit), len(want))
    print(f"{shape} {label}: {len(keys)} requests, {len(want)} selected, {len(faulted)} "
          f"faulted, precision {precision:.2f}, recall {recall:.2f}, {len(faults)} faults "
          f"and {len(ambiguous)} ambiguous calls logged")
    mctest.check(0 < len(want) < len(keys), f"{shape}/{label}: some requests selected")
    mctest.check(precision == 1.0, f"{shape}/{label}: precision 1.00: faulted but not "
                                   f"selected: {sorted(faulted - want)[:10]}")
    floor = a.min_recall if label == "alloc" else 1.0
    mctest.check(recall >= floor, f"{shape}/{label}: recall {recall:.2f} >= {floor:.2f}: "
                                  f"selected, not faulted: {sorted(want - faulted)[:10]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--shape", required=True,
                    choices=["threaded", "fastapi", "fastapi-asgi", "node"])
    ap.add_argument("--sanitize", action="store_true",
                    help="the sanitizer build: the allocation rule is not measured")
    ap.add_argument("--min-recall", type=float, default=0.0,
                    help="the recall the allocation rule must reach at least")
    a = ap.parse_args()
    if a.shape == "node":
        if not shutil.which("node") or not os.path.isdir(
                os.path.join(HERE, "node_modules", "onnxruntime-node")):
            return mctest.skip("node or onnxruntime-node (scripts/setup) missing")
    else:
        try:
            import torch  # noqa: F401
            if a.shape != "threaded":
                import fastapi  # noqa: F401
                import uvicorn  # noqa: F401
                import uvloop  # noqa: F401
        except ImportError as e:
            return mctest.skip(f"{e.name} missing (python3-torch, python3-fastapi, "
                               "python3-uvicorn, python3-uvloop)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-attrib-")
    try:
        labels = ("alloc", "send") + (("alloc-last",) if a.shape == "fastapi" else ())
        if a.sanitize:
            print("alloc: not measured under ASan: its runtime, preloaded first, serves the "
                  "malloc family before the library (the normal build measures it)")
            labels = ("send",)
        for label in labels:
            measure(a, tmp, a.shape, label)
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
