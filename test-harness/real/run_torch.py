#!/usr/bin/python3
"""PyTorch under mlchaos: a model saved with torch.save, loaded with torch.load, served by a
ThreadingHTTPServer (torch_server.py) on 127.0.0.1.

--case corrupt  a read rule flips bits in the weights' region of the file (offset range inside
                the first weight tensor): the server either refuses the model (torch.load
                raises) or answers other predictions than the clean run's, the same in a second
                run; the file on disk is unchanged.
--case serve    during requests (phase = serve) a malloc budget of 1 GiB: a request that needs
                a 2 GiB tensor gets PyTorch's allocation error as a 500, the server keeps
                serving; a send delay of 300 ms with rate = 30 %, select = request shows in
                exactly the requests `mlchaos select` names, and the log's keys are those.
Exit 77 when torch is not installed.
"""

import argparse
import glob
import hashlib
import json
import os
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

PY = "/usr/bin/python3"
SERVER = os.path.join(HERE, "torch_server.py")
INPUTS = [[((i * 7 + j * 3) % 11 - 5) / 5.0 for j in range(16)] for i in range(8)]
DELAY_S = 0.3

CORRUPT = """\
[mlchaos]
seed = 3
request_key = none
log = {log}

[fault.rot]
hook = read
action = corrupt
path = */model.pt
offset = 64KiB-448KiB
count = 1
select = call
"""

SERVE = """\
[mlchaos]
seed = 5
log = {log}

[fault.budget]
hook = malloc
action = fail
budget = 1GiB
phase = serve

[fault.slow]
hook = send
action = delay
delay = 300ms
rate = 30%
select = request
"""


class Torch:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
        self.model = os.path.join(tmp, "model.pt")
        self.n = 0

    def server(self, config_text=None):
        """Starts the server (under `mlchaos run` when a config is given)."""
        self.n += 1
        ready = os.path.join(self.tmp, f"ready-{self.n}")
        argv = [PY, SERVER, "serve", self.model, ready]
        cfg = None
        if config_text is not None:
            cfg = os.path.join(self.tmp, f"chaos-{self.n}.ini")
            with open(cfg, "w") as f:
                f.write(config_text.format(log=os.path.join(self.tmp, f"log-{self.n}-%p.jsonl")))
            argv = [self.a.mlchaos, "run", "-c", cfg, "--"] + argv
        p, port = rsnet.start_server(argv, self.env, self.tmp, f"server-{self.n}", ready)
        return p, port, cfg

    def predictions(self, port):
        st, out, _ = rsnet.request(port, "POST", "/predict", key="p-0", body={"inputs": INPUTS})
        return out.get("pred") if st == 200 and isinstance(out, dict) else None

    def stop(self, p, what):
        rc = p.stop()
        err = p.stderr()
        mctest.check(rc == 0 and not mctest.sanitizer_report(err),
                     f"{what}: stopped by SIGTERM, exit {rc}")
        if rc != 0:
            print(err[-4000:], file=sys.stderr)

    def case_corrupt(self):
        disk = sha256(self.model)
        p, port, _ = self.server()
        try:
            clean = self.predictions(port) if port else None
        finally:
            self.stop(p, "clean server")
        if not mctest.check(clean is not None, "clean server answers predictions"):
            return
        outcomes = []
        for run in (1, 2):
            p, port, _ = self.server(CORRUPT)
            try:
                if port is None:
                    rc = p.wait(30)
                    err = p.stderr()
                    mctest.check(rc == 3 and "load failed" in err,
                                 f"run {run}: the server refused the corrupted model: "
                                 f"{err.strip()[-300:]}")
                    outcomes.append(("refused", None))
                else:
                    got = self.predictions(port)
                    mctest.check(got is not None and got != clean,
                                 f"run {run}: predictions changed by the corrupted weights")
                    # as text: a flipped exponent may make a NaN, which equals nothing
                    outcomes.append(("changed", json.dumps(got)))
            finally:
                if port is not None:
                    self.stop(p, f"corrupt run {run}")
                else:
                    p.stop()
            lines = [l for l in self.log_of_any() if l.get("rule") == "rot"]
            changed = sum(l.get("changed", 0) for l in lines)
            mctest.check(changed > 0, f"run {run}: {len(lines)} corrupt faults, {changed} bits "
                                      "flipped")
        print(f"corrupt: outcomes {[o for o, _ in outcomes]}; clean {clean[0]}; "
              f"corrupted {(outcomes[0][1] or '')[:120]}")
        mctest.check(outcomes[0] == outcomes[1], "the same damage, the same outcome, twice")
        mctest.check(sha256(self.model) == disk, "the model file on disk is unchanged")

    def log_of_any(self):
        """Every log of the last run (`mlchaos run` starts the server as its child)."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.tmp, f"log-{self.n}-*.jsonl"))):
            out += mctest.read_log(path, mctest.fail)
        return out

    def case_serve(self):
        p, port, cfg = self.server(SERVE)
        keys = [f"req-{i}" for i in range(40)]
        try:
            if not mctest.check(port is not None, f"server under mlchaos run listening: "
                                                  f"{p.stderr()[-2000:]}"):
                return
            results = {}
            for k in keys[:20]:
                results[k] = rsnet.request(port, "POST", "/predict", key=k,
                                           body={"inputs": INPUTS})
            big = []
            if not self.a.sanitize:
                big = [rsnet.request(port, "POST", "/predict", key=f"big-{i}",
                                     body={"batch": 1 << 25}) for i in range(3)]
            for k in keys[20:]:
                results[k] = rsnet.request(port, "POST", "/predict", key=k,
                                           body={"inputs": INPUTS})
            health = rsnet.request(port, "GET", "/health", key="h-0")
        finally:
            self.stop(p, "served server")
        for st, out, _ in big:
            mctest.check(st == 500 and "DefaultCPUAllocator" in str(out),
                         f"a 2 GiB request over the budget: {st} {str(out)[:160]}")
        mctest.check(all(r[0] == 200 for r in results.values()),
                     "every small request answered 200: "
                     f"{sorted(set(str(r[0]) for r in results.values()))}")
        mctest.check(health[0] == 200, f"the server still serves after the failures: {health[0]}")
        want = rsnet.selected_keys(self.a.mlchaos, cfg, "slow", keys, self.env)
        fast_max = max((r[2] for k, r in results.items() if k not in want), default=0)
        print(f"serve: selected by mlchaos select: {sorted(want)}; "
              f"slowest unselected {fast_max:.3f} s")
        mctest.check(0 < len(want) < len(keys), f"{len(want)} of {len(keys)} keys selected")
        rsnet.check_late({k: r[2] for k, r in results.items()}, want, DELAY_S)
        lines = self.log_of_any()
        logged = {l["key"] for l in lines if l["rule"] == "slow"}
        mctest.check(logged == want | ({"big-0", "big-1", "big-2", "h-0"} & logged),
                     f"the log's delayed keys are the selected ones ({sorted(logged)})")
        budget = [l for l in lines if l["rule"] == "budget"]
        if self.a.sanitize:
            print("budget: not checked under ASan: its runtime, preloaded first, serves "
                  "PyTorch's posix_memalign before the library (the normal build checks it)")
            return
        mctest.check(len(budget) >= 3 and all(l["phase"] == "serve" and l["key"].startswith("big-")
                                              for l in budget),
                     f"{len(budget)} budget faults, all in big requests, phase serve")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--case", choices=("corrupt", "serve"), required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--sanitize", action="store_true",
                    help="ASan build: no malloc rule can be reached")
    a = ap.parse_args()
    probe = subprocess.run([PY, "-c", "import torch"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import torch (Debian: apt-get install python3-torch)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-torch-")
    try:
        t = Torch(a, tmp)
        subprocess.run([PY, SERVER, "make", t.model], check=True, timeout=120)
        getattr(t, "case_" + a.case)()
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
