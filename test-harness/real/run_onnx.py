#!/usr/bin/python3
"""region = tensors under onnxruntime-node: an ONNX model damaged in its initializers still
loads and answers wrongly, exactly as the event log's changes predict; damaged anywhere, it
mostly does not load.

The model (onnx_model.py, written here without the onnx package): Y = Relu(X @ W1 + B1) @ W2
+ B2, W1 64 KiB of raw_data, W2 packed float_data. The server (onnx_server.js) loads it with
InferenceSession.create(path) (onnxruntime reads the file) or create(fs.readFileSync(path))
(node reads it, onnxruntime parses the buffer), then answers POST /predict. Under `mlchaos
run`, with a read and an mmap rule sharing one damage name:

  values   mode = sign, count = 3: the server loads; the changes the log lists are 3 per
           initializer, in the ONNX tensors by name, and applied to the weights numpy
           computes the server's answers (float32, up to summation order)
  nan      mode = nan, count = 2: loads; answers NaN exactly where numpy, given the logged
           NaNs, says
  contrast bitflip, 256 per 4 KiB, over several seeds: with region = tensors every load
           succeeds, with region = any most fail (printed)
  external W1 and B1 kept in model.data (external_data, by path only): damaged there, as
           the model says, when onnxruntime opens it; answers as numpy predicts
  checksum the model is unchanged on disk

Both load modes. Exit 77 when node, onnxruntime-node (scripts/setup installs it from npm into
test-harness/real/node_modules) or numpy is missing.
"""

import argparse
import hashlib
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

NODE = "/usr/bin/node"
SERVER = os.path.join(HERE, "onnx_server.js")
MODES = ("path", "buffer")
CONTRAST_SEEDS = 6
CONTRAST_COUNT = 256  # bit flips per 4 KiB: the heavy rot of config/corrupt-weights.ini
INPUTS = 4

HEAD = "[mlchaos]\nseed = {seed}\nrequest_key = none\nlog = {log}\n"
RULE = """
[fault.onnx-{hook}]
hook = {hook}
action = corrupt
path = {path}
region = {region}
mode = {mode}
count = {count}
damage = weights
select = call
"""


def answered(answers):
    """True when every input got an answer."""
    return bool(answers) and all(a is not None for a in answers)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Onnx:
    def __init__(self, mlchaos, env_pairs, tmp):
        import numpy as np
        import onnx_model

        self.np, self.om = np, onnx_model
        self.mlchaos = mlchaos
        self.env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in env_pairs))
        self.tmp = tmp
        self.runs = 0
        models = os.path.join(tmp, "models")
        os.mkdir(models)
        self.model = os.path.join(models, "model.onnx")
        self.weights = onnx_model.write(self.model)
        rng = np.random.default_rng(3)
        self.inputs = [rng.standard_normal((1, onnx_model.IN)).astype(np.float32)
                       for _ in range(INPUTS)]

    # ---- a server run --------------------------------------------------------------------

    def serve(self, mode, config=None, model=None):
        """Starts the server (under `mlchaos run` with config), asks it every input and stops
        it. Returns (loaded, answers: list of float32 arrays or None, log lines)."""
        self.runs += 1
        rundir = os.path.join(self.tmp, f"run-{self.runs}")
        os.mkdir(rundir)
        argv = [NODE, SERVER, mode, model or self.model, os.path.join(rundir, "ready")]
        if config is not None:
            cfg = os.path.join(rundir, "chaos.ini")
            with open(cfg, "w") as f:
                f.write(config.replace("{log}", os.path.join(rundir, "log-%p.jsonl")))
            argv = [self.mlchaos, "run", "-c", cfg, "--"] + argv
        p, port = rsnet.start_server(argv, self.env, rundir, "onnx",
                                     os.path.join(rundir, "ready"))
        answers = None
        try:
            if port is not None:
                answers = [self.ask(port, x) for x in self.inputs]
        finally:
            p.stop(30)
        err = p.stderr()
        if mctest.sanitizer_report(err):
            mctest.fail(f"{argv}: a sanitizer report\n{err[-3000:]}")
        lines = []
        for name in sorted(os.listdir(rundir)):
            if name.startswith("log-") and name.endswith(".jsonl"):
                lines += mctest.read_log(os.path.join(rundir, name), mctest.fail)
        return port is not None, answers, lines, err

    def ask(self, port, x):
        status, out, _ = rsnet.request(port, "POST", "/predict", body={"x": x[0].tolist()})
        if status != 200 or not isinstance(out, dict) or "y" not in out:
            return None
        return self.np.array([float(v) for v in out["y"]], dtype=self.np.float32)

    def config(self, mode, count, seed=11, region="tensors", path="*/model.onnx"):
        return HEAD.format(seed=seed, log="{log}") + "".join(
            RULE.format(hook=h, region=region, mode=mode, count=count, path=path)
            for h in ("read", "mmap"))

    # ---- what the log says ---------------------------------------------------------------

    def logged_weights(self, lines, what, files=None):
        """The weights with the logged changes applied, {tensor: values changed}; files:
        the set the base names of the files damaged are added to."""
        bits = {k: self.om.as_bits(v).copy() for k, v in self.weights.items()}
        per = {}
        for l in lines:
            if l.get("action") != "corrupt" or not l.get("applied") or "changes" not in l:
                continue
            if l.get("changes_truncated"):
                mctest.fail(f"{what}: a line left changes out: the test needs fewer")
            mctest.check(l.get("format") == "onnx", f"{what}: the log names the format "
                                                    f"({l.get('format')})")
            if files is not None and l.get("target", "").startswith("file:"):
                files.add(os.path.basename(l["target"]))
            for ch in l["changes"]:
                t, i = ch["tensor"], ch["index"]
                if not mctest.check(t in bits and int(ch["before"], 16) == bits[t][i],
                                    f"{what}: change {ch} is of a weight with those bits"):
                    continue
                bits[t][i] = int(ch["after"], 16)
                per[t] = per.get(t, 0) + 1
        shapes = {k: v.shape for k, v in self.weights.items()}
        damaged = {k: self.om.from_bits(b, shapes[k]) for k, b in bits.items()}
        return damaged, per

    def expect(self, weights):
        return [self.om.forward(weights, x)[0] for x in self.inputs]

    # ---- the cases -------------------------------------------------------------------------

    def case_clean(self, mode):
        loaded, answers, _, err = self.serve(mode)
        want = self.expect(self.weights)
        ok = loaded and answered(answers) and all(
            self.np.allclose(a, w, rtol=1e-4, atol=1e-5) for a, w in zip(answers, want))
        mctest.check(ok, f"{mode}: without the library the server answers as numpy "
                         f"({answers and answers[0]} / {want[0]}) {err[-300:]}")
        return answers

    def case_values(self, mode, clean):
        what = f"{mode} sign"
        loaded, answers, lines, err = self.serve(mode, self.config("sign", 3))
        if not mctest.check(loaded and answered(answers),
                            f"{what}: the damaged model loads and answers ({err[-300:]})"):
            return
        damaged, per = self.logged_weights(lines, what)
        mctest.check(per == {k: 3 for k in self.weights},
                     f"{what}: values changed per initializer {per}, 3 in each expected")
        want = self.expect(damaged)
        close = all(self.np.allclose(a, w, rtol=1e-4, atol=1e-5) for a, w in zip(answers, want))
        changed = any(not self.np.array_equal(a, c) for a, c in zip(answers, clean))
        mctest.check(close and changed, f"{what}: the answers changed ({changed}) and are "
                                        f"numpy's with the logged changes ({close}): "
                                        f"{answers[0]} / {want[0]}")

    def case_nan(self, mode):
        what = f"{mode} nan"
        np = self.np
        loaded, answers, lines, err = self.serve(mode, self.config("nan", 2))
        if not mctest.check(loaded and answered(answers),
                            f"{what}: the damaged model loads and answers ({err[-300:]})"):
            return
        damaged, per = self.logged_weights(lines, what)
        mctest.check(per == {k: 2 for k in self.weights},
                     f"{what}: NaNs per initializer {per}, 2 in each expected")
        with np.errstate(invalid="ignore"):
            want = self.expect(damaged)
        got_nan = [np.isnan(a) for a in answers]
        want_nan = [np.isnan(w) for w in want]
        mctest.check(any(m.any() for m in got_nan) and
                     all((g == w).all() for g, w in zip(got_nan, want_nan)),
                     f"{what}: NaN answers where numpy says: {got_nan[0]} / {want_nan[0]}")

    def case_contrast(self, mode):
        failed = {"any": 0, "tensors": 0}
        for seed in range(1, CONTRAST_SEEDS + 1):
            for region in failed:
                cfg = self.config("bitflip", CONTRAST_COUNT, seed=seed, region=region)
                loaded, answers, _, _ = self.serve(mode, cfg)
                if not loaded or not answered(answers):
                    failed[region] += 1
        print(f"contrast {mode}: bitflip count = {CONTRAST_COUNT}, {CONTRAST_SEEDS} seeds: "
              f"region = any broke {failed['any']} of {CONTRAST_SEEDS} loads, region = "
              f"tensors {failed['tensors']} of {CONTRAST_SEEDS}")
        mctest.check(failed["tensors"] == 0,
                     f"contrast {mode}: region = tensors never broke a load")
        mctest.check(failed["any"] > CONTRAST_SEEDS // 2,
                     f"contrast {mode}: region = any broke most loads ({failed['any']})")

    def case_external(self):
        """W1 and B1 kept in model.data beside the model: the damage reaches them when
        onnxruntime opens that file, as the model's external_data says."""
        what = "external data"
        d = os.path.join(self.tmp, "models", "ext")
        os.mkdir(d)
        model = os.path.join(d, "model.onnx")
        self.om.write_external(model, "model.data")
        data = os.path.join(d, "model.data")
        before = sha256_file(data)
        loaded, answers, lines, err = self.serve("path", self.config("sign", 3, path="*/ext/*"),
                                                 model)
        if not mctest.check(loaded and answered(answers),
                            f"{what}: the damaged model loads and answers ({err[-300:]})"):
            return
        files = set()
        damaged, per = self.logged_weights(lines, what, files)
        mctest.check(per == {k: 3 for k in self.weights},
                     f"{what}: values changed per initializer {per}, 3 in each expected "
                     f"(W1 and B1 in model.data)")
        mctest.check(files == {"model.onnx", "model.data"},
                     f"{what}: the files damaged are model.onnx and model.data ({files})")
        want = self.expect(damaged)
        close = all(self.np.allclose(a, w, rtol=1e-4, atol=1e-5) for a, w in zip(answers, want))
        mctest.check(close, f"{what}: the answers are numpy's with the logged changes: "
                            f"{answers[0]} / {want[0]}")
        mctest.check(sha256_file(data) == before, f"{what}: model.data unchanged on disk")

    def main(self):
        before = sha256_file(self.model)
        for mode in MODES:
            clean = self.case_clean(mode)
            if not answered(clean):
                continue
            self.case_values(mode, clean)
            self.case_nan(mode)
            self.case_contrast(mode)
        self.case_external()
        mctest.check(sha256_file(self.model) == before, "model.onnx: unchanged on disk")


def onnxruntime_missing():
    """Why onnxruntime-node cannot be loaded from test-harness/real, or None."""
    p = subprocess.run([NODE, "-e", "require('onnxruntime-node')"], cwd=HERE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    return None if p.returncode == 0 else p.stderr.strip().splitlines()[-1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    if not os.access(NODE, os.X_OK):
        mctest.skip(f"{NODE} is not installed (Debian: apt-get install nodejs)")
    why = onnxruntime_missing()
    if why is not None:
        mctest.skip(f"onnxruntime-node cannot be loaded ({why}): scripts/setup installs it "
                    f"from npm into test-harness/real/node_modules")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import numpy"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip("/usr/bin/python3 cannot import numpy (Debian: apt-get install "
                    "python3-numpy)")
    return mctest.in_tmpdir("mlchaos-rs-onnx-", lambda tmp: Onnx(a.mlchaos, a.env, tmp).main())


if __name__ == "__main__":
    sys.exit(main())
