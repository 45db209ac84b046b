#!/usr/bin/python3
"""region = json on a real server: gunicorn (one worker) serving scikit-learn (sk_app.py) under
two select = request rules, seen from the client:

  noise-in   hook = read: the features of a request ({"inputs": [[16 floats], ...]}) get
             Gaussian noise (std = 0.5, relative) on their way in: the model predicts from
             the perturbed features
  swap-out   hook = send: two values of the answer's "proba" are exchanged on the way out

Every answer is a 200 whose body parses as JSON under its own Content-Length (the numbers are
rewritten within their width); requests neither rule selects get the clean run's answer
exactly; those noise-in selects (as `mlchaos select` names them) answer other predictions for
some of them, and those swap-out selects carry other probabilities; the log's lines of both
rules say what changed. Exit 77 without gunicorn or scikit-learn.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402
from run_gunicorn import GUNICORN, train  # noqa: E402

PY = "/usr/bin/python3"
KEYS = [f"req-{i}" for i in range(60)]
CONFIG = """\
[mlchaos]
seed = 11
log = {log}

[fault.noise-in]
hook = read
action = corrupt
region = json
json_path = /inputs
mode = noise
std = 0.5
count = all
rate = 30%
select = request

[fault.swap-out]
hook = send
action = corrupt
region = json
json_path = /proba
mode = swap
rate = 30%
select = request
"""


def serve(a, tmp, env, cfg):
    argv = [GUNICORN, "--workers", "1", "--bind", "127.0.0.1:0", "--chdir", HERE,
            "--log-level", "info", "--timeout", "120", "sk_app:app"]
    if cfg:
        argv = [a.mlchaos, "run", "-c", cfg, "--"] + argv
    p = mctest.Proc(argv, env, os.path.join(tmp, "gunicorn-%d.stderr" % (cfg is not None)))

    def ready():
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", p.stderr())
        if m and "Booting worker" in p.stderr():
            return int(m.group(1))
        return None if p.alive() else "dead"
    port = mctest.poll(ready, 120)
    mctest.require(isinstance(port, int), f"gunicorn listening: {p.stderr()[-2000:]}")
    # the worker imports scikit-learn and loads the model: wait for its first answer
    mctest.poll(lambda: rsnet.request(port, "GET", "/health", key="h")[0] == 200 or None, 120)
    return p, port


def answers(port, inputs):
    return {k: rsnet.request(port, "POST", "/predict", key=k, body={"inputs": inputs})
            for k in KEYS}


def run(a, tmp):
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    model_path = os.path.join(tmp, "model.pkl")
    _, inputs = train(model_path)
    env.update(SK_MODEL=model_path, PYTHONDONTWRITEBYTECODE="1")
    p, port = serve(a, tmp, env, None)
    try:
        clean = answers(port, inputs)
    finally:
        p.stop()
    cfg = os.path.join(tmp, "chaos.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "log-%p.jsonl")))
    p, port = serve(a, tmp, env, cfg)
    try:
        chaos = answers(port, inputs)
    finally:
        p.stop()
    noisy = rsnet.selected_keys(a.mlchaos, cfg, "noise-in", KEYS, env)
    swapped = rsnet.selected_keys(a.mlchaos, cfg, "swap-out", KEYS, env)
    mctest.check(all(st == 200 and isinstance(out, dict) for st, out, _ in clean.values()),
                 "the clean run answers every request")
    bad = [k for k, (st, out, _) in chaos.items() if st != 200 or not isinstance(out, dict)]
    mctest.check(not bad, f"every answer under the rules is a 200 with a JSON body: "
                          f"{[(k, chaos[k][:2]) for k in bad[:3]]}")
    untouched = [k for k in KEYS if k not in noisy | swapped]
    same = [k for k in untouched if chaos[k][1] == clean[k][1] or
            (chaos[k][1].get("pred") == clean[k][1].get("pred") and
             chaos[k][1].get("proba") == clean[k][1].get("proba"))]
    mctest.check(untouched and len(same) == len(untouched),
                 f"unselected requests answered as in the clean run: {len(same)} of "
                 f"{len(untouched)}")
    changed_pred = [k for k in noisy if chaos[k][1].get("pred") != clean[k][1].get("pred")]
    changed_proba = [k for k in noisy if chaos[k][1].get("proba") != clean[k][1].get("proba")]
    swap_only = swapped - noisy
    swapped_seen = [k for k in swap_only if chaos[k][1].get("proba") != clean[k][1].get("proba")
                    and chaos[k][1].get("pred") == clean[k][1].get("pred")]
    mctest.note(f"noise-in selected {len(noisy)}: predictions changed in {len(changed_pred)}, "
                f"probabilities in {len(changed_proba)}; swap-out alone selected "
                f"{len(swap_only)}: probabilities changed in {len(swapped_seen)}")
    mctest.check(noisy and len(changed_proba) == len(noisy),
                 "every noisy request got other probabilities")
    mctest.check(changed_pred, "some noisy requests got other predictions")
    mctest.check(swap_only and len(swapped_seen) == len(swap_only),
                 "every request swap-out alone selects carries other probabilities, its "
                 "predictions unchanged")
    lines = []
    for log in glob.glob(os.path.join(tmp, "log-*.jsonl")):
        lines += [l for l in mctest.read_log(log, mctest.fail) if l.get("event") == "fault"]
    applied = {}
    for l in lines:
        if l.get("applied") and l.get("changed", 0) > 0:
            applied.setdefault(l["rule"], set()).add(l["key"])
    mctest.check(applied.get("noise-in") == noisy and applied.get("swap-out") == swapped,
                 f"the log's changed requests are the selected ones: "
                 f"{ {r: len(k) for r, k in applied.items()} }")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    if not os.path.exists(GUNICORN):
        mctest.skip(f"{GUNICORN} is not installed (Debian: apt-get install gunicorn)")
    probe = subprocess.run([PY, "-c", "import sklearn"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import sklearn (Debian: apt-get install python3-sklearn)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-json-")
    try:
        return mctest.run_case("json-noise", lambda: run(a, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
