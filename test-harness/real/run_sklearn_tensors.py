#!/usr/bin/python3
"""region = tensors on the model files of scikit-learn and TorchScript servers: the model loads
and answers wrongly.

  sklearn      a LogisticRegression (float64 coef_) and a RandomForest (float64 tree values),
               each saved with joblib.dump and with pickle.dump, served by gunicorn
               (sk_app.py) under `mlchaos run` with a read rule, region = tensors, mode = nan:
               the worker loads the model and answers 200, with probabilities that differ
               from the clean model's on the same inputs (NaN where a damaged value is used);
               the log names the damaged arrays by their path in the model (coef_,
               estimators_[i].tree_.values) and the format (joblib, pickle). Then the
               LogisticRegression file loaded and used by a plain python under bitflip
               (count = 256 a 4 KiB), region = any and region = tensors, over several seeds:
               how many loads fail each way (printed); region = tensors never breaks a load
  torchscript  torch.jit.save of a small scripted module, loaded with torch.jit.load under
               region = tensors, mode = nan: it loads and answers differently from the clean
               module (NaN)

Exit 77 when gunicorn, scikit-learn, joblib (sklearn) or torch (torchscript) is missing.
"""

import argparse
import json
import math
import os
import pickle
import re
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
TIMEOUT_S = 120
CONTRAST_SEEDS = 8
HEAD = "[mlchaos]\nseed = {seed}\nrequest_key = none\nlog = {{log}}\n"
NAN_RULE = """
[fault.weights]
hook = read
action = corrupt
path = */models/*
region = tensors
mode = nan
count = {count}
select = call
"""
FLIP_RULE = """
[fault.weights]
hook = read
action = corrupt
path = */models/*
region = {region}
mode = bitflip
count = 256
select = call
"""
# Loads the model at argv[1] the way argv[2] says (joblib, pickle), predicts on argv[3]'s
# inputs (JSON), prints one JSON line.
LOAD_AND_PREDICT = r"""
import json, pickle, sys
path, how, inputs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    if how == "joblib":
        import joblib
        model = joblib.load(path)
    else:
        with open(path, "rb") as f:
            model = pickle.load(f)
    print(json.dumps({"ok": True, "proba": model.predict_proba(inputs).tolist()}))
except Exception as e:
    print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}))
"""
TORCHSCRIPT = r"""
import json, sys, torch
path, mode = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
if mode == "save":
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 16)
            self.fc2 = torch.nn.Linear(16, 3)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))
    torch.jit.save(torch.jit.script(Net()), path)
    sys.exit(0)
try:
    m = torch.jit.load(path)
    out = m(torch.linspace(-1, 1, 32).reshape(8, 4)).tolist()
    print(json.dumps({"ok": True, "out": out}))
except Exception as e:
    print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}))
"""


def differs(a, b):
    """True when two nested lists of floats differ anywhere (NaN differs from everything)."""
    if isinstance(a, list):
        return len(a) != len(b) or any(differs(x, y) for x, y in zip(a, b))
    return math.isnan(a) or math.isnan(b) or a != b


def changes(lines):
    """(format, tensor names) of the log's region = tensors lines."""
    formats = {l.get("format") for l in lines if l.get("region") == "tensors"}
    names = {c["tensor"] for l in lines for c in l.get("changes", [])}
    return formats, names


class SkTensors(mctest.ChaosRuns):
    def __init__(self, a, tmp):
        super().__init__(a.mlchaos, a.env, tmp)
        self.models = os.path.join(tmp, "models")
        os.mkdir(self.models)

    # ---- the models ----------------------------------------------------------------------

    def train(self):
        import joblib
        from sklearn.datasets import make_classification
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        x, y = make_classification(n_samples=300, n_features=16, random_state=0)
        models = {"logistic": LogisticRegression(max_iter=500).fit(x, y),
                  "forest": RandomForestClassifier(n_estimators=5, max_depth=4,
                                                   random_state=0).fit(x, y)}
        self.inputs = x[:8].tolist()
        self.files = {}
        for name, model in models.items():
            path = os.path.join(self.models, name + ".joblib")
            joblib.dump(model, path)
            self.files[(name, "joblib")] = (path, model.predict_proba(self.inputs).tolist())
            path = os.path.join(self.models, name + ".pkl")
            with open(path, "wb") as f:
                pickle.dump(model, f)
            self.files[(name, "pickle")] = (path, model.predict_proba(self.inputs).tolist())

    # ---- gunicorn ------------------------------------------------------------------------

    def serve(self, model_path, config):
        """Starts gunicorn (1 worker) under mlchaos on model_path, asks /predict once and
        stops it. Returns (status, answer, log lines); status None: no worker came up."""
        self.runs += 1
        rundir = os.path.join(self.tmp, f"run-{self.runs}")
        os.mkdir(rundir)
        cfg = os.path.join(rundir, "chaos.ini")
        with open(cfg, "w") as f:
            f.write(config.replace("{log}", os.path.join(rundir, "log-%p.jsonl")))
        env = dict(self.env, SK_MODEL=model_path, PYTHONDONTWRITEBYTECODE="1")
        # --timeout: on a busy machine a worker that imports scikit-learn and loads the model
        # may take longer than gunicorn's default 30 s, after which the arbiter kills it
        argv = [self.mlchaos, "run", "-c", cfg, "--", GUNICORN, "--workers", "1",
                "--bind", "127.0.0.1:0", "--chdir", HERE, "--graceful-timeout", "5",
                "--timeout", str(TIMEOUT_S), "sk_app:app"]
        p = mctest.Proc(argv, env, os.path.join(rundir, "gunicorn.stderr"))
        status, answer = None, None
        try:
            def ready():
                err = p.stderr()
                m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", err)
                if m and "Booting worker with pid" in err:
                    return int(m.group(1))
                return None if p.alive() else "dead"
            port = mctest.poll(ready, TIMEOUT_S)
            if isinstance(port, int):
                # The worker loads the model when it imports the app: the first request
                # waits for it.
                status, answer, _ = rsnet.request(port, "POST", "/predict",
                                                  body={"inputs": self.inputs},
                                                  timeout_s=TIMEOUT_S)
            else:
                print(p.stderr()[-2000:], file=sys.stderr)
        finally:
            p.stop(30)
        lines = []
        for name in sorted(os.listdir(rundir)):
            if name.startswith("log-") and name.endswith(".jsonl"):
                lines += mctest.read_log(os.path.join(rundir, name), mctest.fail)
        return status, answer, lines

    def test_nan_served(self):
        config = HEAD.format(seed=5) + NAN_RULE.format(count=4)
        want_names = {"logistic": {"coef_", "intercept_"}, "forest": None}
        for (name, fmt), (path, clean) in sorted(self.files.items()):
            what = f"gunicorn {name} {fmt}"
            status, answer, lines = self.serve(path, config)
            if not mctest.check(status == 200, f"{what}: the worker loaded the model and "
                                               f"answered 200 ({status} {answer})"):
                continue
            bad = differs(answer["proba"], clean)
            mctest.check(bad, f"{what}: the answer differs from the clean model's")
            nans = sum(math.isnan(v) for row in answer["proba"] for v in row)
            print(f"{what}: {nans} of {len(clean) * len(clean[0])} probabilities NaN, "
                  f"predictions {answer['pred']}")
            formats, names = changes(lines)
            mctest.check(formats == {fmt}, f"{what}: the log says format {fmt} ({formats})")
            if want_names[name] is not None:
                mctest.check(names == want_names[name],
                             f"{what}: NaNs in {sorted(names)}, the float64 arrays")
            else:  # each tree's classes_ is float64 too (the forest's own is int64)
                floats = re.compile(r"estimators_\[\d\]\.(tree_\.values|classes_)")
                mctest.check(any(n.endswith(".tree_.values") for n in names) and
                             all(floats.fullmatch(n) for n in names),
                             f"{what}: NaNs in the trees' values and classes_ "
                             f"({sorted(names)})")

    def load(self, path, how, config):
        p, lines, _ = self.run([PY, "-c", LOAD_AND_PREDICT, path, how, json.dumps(self.inputs)],
                               config, TIMEOUT_S)
        if p is None or p.returncode != 0 or not p.stdout.strip():
            return {"ok": False, "error": "the process failed"}, lines
        return json.loads(p.stdout.strip().splitlines()[-1]), lines

    def test_contrast(self):
        """bitflip, region = any against region = tensors, on the same file and seeds."""
        for fmt in ("joblib", "pickle"):
            path, clean = self.files[("logistic", fmt)]
            failed = {"any": 0, "tensors": 0}
            wrong = 0
            for seed in range(1, CONTRAST_SEEDS + 1):
                for region in failed:
                    config = HEAD.format(seed=seed) + FLIP_RULE.format(region=region)
                    answer, lines = self.load(path, fmt, config)
                    failed[region] += not answer["ok"]
                    if region == "tensors" and answer["ok"]:
                        wrong += differs(answer["proba"], clean)
                        mctest.check(lines, f"{fmt} seed {seed}: bits flipped in tensors")
            print(f"bitflip, 256 a 4 KiB, logistic {fmt}: loads failed with region = any "
                  f"{failed['any']} of {CONTRAST_SEEDS}, with region = tensors "
                  f"{failed['tensors']} of {CONTRAST_SEEDS} ({wrong} answered differently)")
            mctest.check(failed["tensors"] == 0, f"{fmt}: region = tensors never breaks a load")
            mctest.check(failed["any"] > 0, f"{fmt}: region = any breaks loads")

    def main(self):
        self.train()
        self.test_nan_served()
        self.test_contrast()


class TorchScript(mctest.ChaosRuns):
    def main(self):
        path = os.path.join(self.tmp, "models", "net.pt")
        os.mkdir(os.path.dirname(path))
        # torch.jit.script reads the module's source: the script is a file.
        script = os.path.join(self.tmp, "torchscript.py")
        with open(script, "w") as f:
            f.write(TORCHSCRIPT)
        p, _, _ = self.run([PY, script, path, "save"])
        if not mctest.check(p is not None and p.returncode == 0,
                            f"torch.jit.save: {p and p.stderr[-2000:]}"):
            return
        p, _, _ = self.run([PY, script, path, "load"])
        clean = json.loads(p.stdout.strip().splitlines()[-1]) if p and p.stdout.strip() else {}
        if not mctest.check(clean.get("ok"), f"the clean module loads ({clean})"):
            return
        config = HEAD.format(seed=3) + NAN_RULE.format(count=2)
        p, lines, _ = self.run([PY, script, path, "load"], config, TIMEOUT_S)
        got = json.loads(p.stdout.strip().splitlines()[-1]) if p and p.stdout.strip() else {}
        if mctest.check(got.get("ok"), f"torch.jit.load loads the damaged module ({got})"):
            mctest.check(differs(got["out"], clean["out"]), "and answers differently")
            nans = sum(math.isnan(v) for row in got["out"] for v in row)
            print(f"torchscript: {nans} of {len(got['out']) * len(got['out'][0])} outputs NaN")
        formats, names = changes(lines)
        mctest.check(formats == {"torch-zip"}, f"the log says torch-zip ({formats})")
        mctest.check(names, f"values changed in the module's tensors ({sorted(names)})")


def probe(module):
    return subprocess.run([PY, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--case", choices=["sklearn", "torchscript"], required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    a.mlchaos = os.path.abspath(a.mlchaos)
    if a.case == "torchscript":
        if not probe("torch"):
            mctest.skip(f"{PY} cannot import torch (Debian: apt-get install python3-torch)")
        return mctest.in_tmpdir("mlchaos-torchscript-",
                                lambda tmp: TorchScript(a.mlchaos, a.env, tmp).main())
    if not os.access(GUNICORN, os.X_OK):
        mctest.skip(f"{GUNICORN} is not installed (Debian: apt-get install gunicorn)")
    if not probe("sklearn, joblib"):
        mctest.skip(f"{PY} cannot import sklearn and joblib (Debian: python3-sklearn)")
    return mctest.in_tmpdir("mlchaos-sk-tensors-", lambda tmp: SkTensors(a, tmp).main())


if __name__ == "__main__":
    sys.exit(main())
