#!/usr/bin/python3
"""gunicorn with 2 prefork workers serving a scikit-learn model (sk_app.py) under mlchaos.

Each worker is a fork of the gunicorn master, with the library's state of its own: its own
segment /dev/shm/mlchaos.<pid> and its own log (log = ...-%p.jsonl). A send delay with
rate = 25 %, select = request is a pure function of the seed, the rule and X-Request-Id, so:
the requests delayed are exactly those `mlchaos select` names, whichever worker served them,
and both workers delay some; each worker's log holds exactly the keys it served that are
selected, and its segment's injected count equals its log's line count. The answers are the
model's own. Exit 77 when gunicorn or scikit-learn is not installed.
"""

import argparse
import glob
import os
import pickle
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

PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
DELAY_S = 0.25
MAX_REQUESTS = 200
CONFIG = """\
[mlchaos]
seed = 9
log = {log}

[fault.slow]
hook = send
action = delay
delay = 250ms
rate = 25%
select = request
"""


def train(path):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=300, n_features=16, random_state=0)
    model = LogisticRegression(max_iter=500).fit(x, y)
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return model, x[:4].tolist()


class Gunicorn:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp

    def start(self, cfg, model_path):
        env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in self.a.env))
        env["SK_MODEL"] = model_path
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # workers import sk_app from the source tree
        argv = [self.a.mlchaos, "run", "-c", cfg, "--", GUNICORN, "--workers", "2",
                "--bind", "127.0.0.1:0", "--chdir", HERE, "--log-level", "info",
                "--graceful-timeout", "5", "sk_app:app"]
        p = mctest.Proc(argv, env, os.path.join(self.tmp, "gunicorn.stderr"))

        def ready():
            err = p.stderr()
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+) \((\d+)\)", err)
            workers = re.findall(r"Booting worker with pid: (\d+)", err)
            if m and len(workers) == 2:
                return int(m.group(1)), int(m.group(2)), [int(w) for w in workers]
            return None if p.alive() else "dead"
        got = mctest.poll(ready, 120)
        return p, (got if isinstance(got, tuple) else None), env

    def main(self):
        model_path = os.path.join(self.tmp, "model.pkl")
        model, inputs = train(model_path)
        want_pred = model.predict(inputs).tolist()
        cfg = os.path.join(self.tmp, "chaos.ini")
        log = os.path.join(self.tmp, "gu-%p.jsonl")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(log=log))
        p, started, env = self.start(cfg, model_path)
        results, figures = {}, {}
        try:
            if not mctest.check(started is not None,
                                f"gunicorn listening with 2 workers: {p.stderr()[-2000:]}"):
                return
            port, master, workers = started
            print(f"gunicorn: port {port}, master {master}, workers {workers}")
            # Warm both workers up (a worker's first answer is slow on its own), then
            # measure.
            warm = set()
            for i in range(40):
                st, out, _ = rsnet.request(port, "POST", "/predict", key=f"warm-{i}",
                                           body={"inputs": inputs})
                warm.add(out["pid"] if st == 200 else None)
                if i >= 5 and warm == set(workers):
                    break
            # Sequential requests (no queueing behind a delayed one), until each worker served
            # a request the rule selects, within a bound: which worker answers is the kernel's
            # choice, so a worker may serve only a few, none of them selected.
            selected = rsnet.selected_keys(self.a.mlchaos, cfg, "slow",
                                           [f"req-{i}" for i in range(MAX_REQUESTS)], env)
            served_selected = set()
            for i in range(MAX_REQUESTS):
                key = f"req-{i}"
                results[key] = rsnet.request(port, "POST", "/predict", key=key,
                                             body={"inputs": inputs})
                st, out, _ = results[key]
                if st == 200 and key in selected:
                    served_selected.add(out["pid"])
                if i >= 59 and served_selected == set(workers):
                    break
            for w in workers:
                figures[w] = mctest.shm(self.a.shm_tool, w)
        finally:
            rc = p.stop(30)
        mctest.check(rc == 0, f"gunicorn stopped by SIGTERM through mlchaos run, exit {rc}")
        self.check(cfg, env, log, workers, results, figures, want_pred)

    def check(self, cfg, env, log, workers, results, figures, want_pred):
        ok = {k: r for k, r in results.items() if r[0] == 200}
        mctest.check(len(ok) == len(results), f"{len(ok)} of {len(results)} requests answered 200")
        mctest.check(all(r[1]["pred"] == want_pred for r in ok.values()),
                     "every answer is the model's own prediction")
        by_worker = {w: {k for k, r in ok.items() if r[1]["pid"] == w} for w in workers}
        mctest.check(all(by_worker[w] for w in workers),
                     f"both workers served: {[len(by_worker[w]) for w in workers]} requests")
        want = rsnet.selected_keys(self.a.mlchaos, cfg, "slow", list(results), env)
        mctest.check(want, f"`mlchaos select` names some of the {len(results)} requests")
        rsnet.check_late({k: r[2] for k, r in ok.items()}, want, DELAY_S)
        for w in workers:
            sel = sorted(by_worker[w] & want)
            mctest.check(len(sel) > 0, f"worker {w} delayed the selected keys it served: {sel}")
            lines = mctest.read_log(log.replace("%p", str(w)), mctest.fail)
            keys = {l["key"] for l in lines if l["rule"] == "slow" and l["key"] in results}
            if not mctest.check(keys == by_worker[w] & want,
                                f"worker {w}'s own log holds exactly its selected keys"):
                print(f"worker {w}: served {sorted(by_worker[w])}\n  its log: "
                      f"{[(l['key'], l['fn'], l['tid']) for l in lines]}\n  latencies: "
                      f"{[(k, round(results[k][2], 3)) for k in sorted(by_worker[w])]}",
                      file=sys.stderr)
            fig = figures.get(w)
            if mctest.check(fig is not None and fig["pid"] == w,
                            f"worker {w} has its own segment"):
                inj = mctest.injected(fig)["slow"]
                # the worker's log starts with the rule set it inherited at fork
                every = mctest.read_log(log.replace("%p", str(w)), mctest.fail, rule_sets=True)
                mctest.check(inj == len(lines) == fig["events_logged"] - 1 == len(every) - 1,
                             f"worker {w}: injected {inj} == log lines {len(lines)} == "
                             f"events_logged {fig['events_logged']} - 1 (the rule set's line)")
        left = [w for w in workers if os.path.exists(f"/dev/shm/mlchaos.{w}")]
        mctest.check(not left, f"no worker segment left after the stop ({left})")
        others = [pth for pth in glob.glob(log.replace("%p", "*"))
                  if int(re.search(r"gu-(\d+)\.jsonl", pth).group(1)) not in workers]
        for pth in others:  # the master never served: nothing injected there
            mctest.check(not mctest.read_log(pth, mctest.fail), f"{pth}: no fault in the master")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--shm-tool", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    if not os.access(GUNICORN, os.X_OK):
        mctest.skip(f"{GUNICORN} is not installed (Debian: apt-get install gunicorn)")
    probe = subprocess.run([PY, "-c", "import sklearn"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import sklearn (Debian: apt-get install python3-sklearn)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-gunicorn-")
    try:
        g = Gunicorn(a, tmp)
        g.main()
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
