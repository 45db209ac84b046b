#!/usr/bin/python3
"""region = tensors under the real loaders: numpy's np.load and torch.load still load the
damaged files, and the values differ from a clean load exactly where the event log says.

Files: two .npy written by numpy (float32 little-endian, float32 big-endian '>f4', float16)
and a torch.save checkpoint of a small nn.Module's state_dict (float32 weights, an int64
buffer). Each is loaded by load_tensors.py, clean (no library) and under `mlchaos run` with a
read rule and an mmap rule that share one damage name (scope = file):

  values     every way (np.load: fread; mmap; read; pread; readv; torch.load: read; pread)
             loads; the (tensor, index) pairs whose bits differ from the clean load are the
             pairs the log lists, with the logged bits before and after; every way, and a
             second process, sees the same damaged bits; value modes skip the int64 buffer
  nan        config/nan-weights.ini (tensor = *attn*): NaNs in the attn tensors only, `count`
             per tensor
  bytes      bitflip with region = tensors: the load succeeds, and the flipped elements are
             those holding the logged bytes
  contrast   the same bitflip count with region = any and with region = tensors, over several
             seeds: how many loads fail (printed); region = tensors never breaks a load
  graded     mode = noise (std 0.001, count = all) on np.load, mmap and pread and on
             torch.load: every way and a second process load the same bits, the relative change
             has the asked standard deviation, the logged bits are the loaded ones and the
             log's `changed` counts every value; bit = 31 negates every float32 exactly and
             leaves float16 alone; fraction = 10% changes that share; a run with noise
             drawn anew per call (scope = call, rate 50%) turned into a config by `mlchaos
             replay` loads the same bits again
  checksum   no file changed on disk

Exit 77 when numpy or torch is missing.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

PY = "/usr/bin/python3"
LOADER = os.path.join(HERE, "load_tensors.py")
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
TIMEOUT_S = 120
WAYS = {"npy": ("load", "mmap", "read", "pread", "readv"), "torch": ("load", "pread")}
CONTRAST_SEEDS = 8
CONTRAST_COUNT = 256  # bit flips per 4 KiB: the heavy rot of config/corrupt-weights.ini

HEAD = "[mlchaos]\nseed = {seed}\nrequest_key = none\nlog = {log}\n"
GRADED = """
[fault.graded-{hook}]
hook = {hook}
action = corrupt
path = */{name}
region = tensors
damage = graded
select = call
{keys}"""
RULE = """
[fault.tensors-{hook}]
hook = {hook}
action = corrupt
path = */{name}
region = {region}
mode = {mode}
count = {count}
damage = weights
select = call
{extra}"""


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Tensors(mctest.ChaosRuns):
    # ---- running the loader ------------------------------------------------------------

    def load(self, kind, way, path, config=None):
        """Runs the loader (under `mlchaos run` when config is given); returns (answer, bits,
        log lines). answer None: the process itself failed (crash, timeout)."""
        import numpy as np

        out = os.path.join(self.tmp, f"bits-{self.runs + 1}.npz")
        p, lines, _ = self.run([PY, LOADER, kind, way, path, out], config, TIMEOUT_S)
        if p is None:
            return None, None, lines
        if p.returncode != 0 or not p.stdout.strip():
            return {"ok": False, "error": f"exit {p.returncode}: {p.stderr[-300:]}"}, None, lines
        answer = json.loads(p.stdout.strip().splitlines()[-1])
        got = None
        if answer["ok"]:
            with np.load(out) as z:
                got = {k: z[k] for k in z.files}
            os.unlink(out)
        return answer, got, lines

    def config(self, name, mode, count, seed=11, region="tensors", extra=""):
        return HEAD.format(seed=seed, log="{log}") + "".join(
            RULE.format(hook=h, name=name, region=region, mode=mode, count=count, extra=extra)
            for h in ("read", "mmap"))

    # ---- what the log says against what the loader got ------------------------------------

    def logged_changes(self, lines, what):
        """The (tensor, element index) pairs the corrupt lines list, with the logged bits of
        whole elements ({pair: (before, after)}); byte changes give the element of the byte
        (width: tensor -> bytes per element)."""
        pairs = {}
        for l in lines:
            if l.get("action") != "corrupt":
                continue
            if not l.get("applied") or "changes" not in l:
                continue
            if l.get("changes_truncated"):
                mctest.fail(f"{what}: a line left changes out: the test needs fewer")
            for ch in l["changes"]:
                key = (ch["tensor"], ch["index"] if "index" in ch else ("byte", ch["byte"]))
                whole = "?" not in ch["before"]
                pairs.setdefault(key, None)
                if whole:
                    pairs[key] = (int(ch["before"], 16), int(ch["after"], 16))
        return pairs

    def differing(self, clean, got):
        import numpy as np

        diff = set()
        for name, ref in clean.items():
            for i in np.nonzero(ref != got[name])[0]:
                diff.add((name, int(i)))
        return diff

    def check_values(self, what, clean, got, lines):
        """The pairs that differ are the pairs logged, with the logged bits."""
        logged = self.logged_changes(lines, what)
        diff = self.differing(clean, got)
        mctest.check(diff and set(logged) == diff,
                     f"{what}: {len(diff)} values differ from the clean load, "
                     f"the log lists {len(logged)}, the same ones: {set(logged) == diff}")
        wrong = [(k, v) for k, v in logged.items()
                 if v is not None and (clean[k[0]][k[1]] != v[0] or got[k[0]][k[1]] != v[1])]
        mctest.check(not wrong, f"{what}: the logged bits before and after are the loaded "
                                f"ones ({len(wrong)} wrong: {wrong[:3]})")
        return diff

    # ---- the cases ------------------------------------------------------------------------

    def case_values(self, kind, path, mode, count, per_tensor):
        """Every way loads; the damage is where the log says; every way and a second process
        agree."""
        name = os.path.basename(path)
        clean = self.load(kind, "load", path)[1]
        cfg = self.config(name, mode, count)
        seen = {}
        for way in WAYS[kind]:
            answer, got, lines = self.load(kind, way, path, cfg)
            what = f"{name} {mode} {way}"
            if not mctest.check(answer and answer["ok"], f"{what}: the loader loads ({answer})"):
                continue
            diff = self.check_values(what, clean, got, lines)
            per = {}
            for t, _ in diff:
                per[t] = per.get(t, 0) + 1
            mctest.check(per == per_tensor, f"{what}: values changed per tensor {per}, "
                                            f"expected {per_tensor}")
            seen[way] = got
        again = self.load(kind, "load", path, cfg)[1]
        ways = list(seen.values()) + ([again] if again else [])
        same = all(set(w) == set(clean) and all((w[t] == ways[0][t]).all() for t in w)
                   for w in ways)
        mctest.check(len(ways) == len(WAYS[kind]) + 1 and same,
                     f"{name} {mode}: every way ({', '.join(seen)}) and a second process see "
                     f"the same damage")

    def case_nan(self, path, kind, ways):
        """config/nan-weights.ini: NaNs in the tensors its glob names, none elsewhere."""
        import numpy as np

        with open(os.path.join(SOURCE, "config", "nan-weights.ini")) as f:
            scenario = f.read()
        count = int(next(l.split("=")[1] for l in scenario.splitlines()
                         if l.startswith("count")))
        glob_ = next(l.split("=")[1].strip() for l in scenario.splitlines()
                     if l.startswith("tensor"))
        cfg = scenario.replace("[mlchaos]\n", "[mlchaos]\nlog = {log}\nrequest_key = none\n")
        clean = self.load(kind, "load", path)[1]
        for way in ways:
            answer, got, lines = self.load(kind, way, path, cfg)
            what = f"nan-weights.ini {os.path.basename(path)} {way}"
            if not mctest.check(answer and answer["ok"], f"{what}: loads ({answer})"):
                continue
            nans = {}
            for t, bits in got.items():
                if clean[t].dtype != np.uint32:
                    continue
                f = bits.view(np.float32)
                n = int(np.isnan(f).sum())
                if n:
                    nans[t] = n
            named = {t: min(count, clean[t].size) for t in clean
                     if clean[t].dtype == np.uint32 and __import__("fnmatch").fnmatchcase(t, glob_)}
            mctest.check(nans == named, f"{what}: NaNs per tensor {nans}, expected {named} "
                                        f"(tensor = {glob_}, count = {count})")
            self.check_values(what, clean, got, lines)

    def case_bytes(self, kind, path):
        """A byte mode inside tensors: loads, and changes only elements holding logged bytes."""
        name = os.path.basename(path)
        clean = self.load(kind, "load", path)[1]
        answer, got, lines = self.load(kind, "load", path, self.config(name, "bitflip", 8))
        what = f"{name} bitflip"
        if not mctest.check(answer and answer["ok"], f"{what}: loads ({answer})"):
            return
        width = {t: clean[t].dtype.itemsize for t in clean}
        logged = {(t, b[1] // width[t]) for (t, b) in self.logged_changes(lines, what)}
        diff = self.differing(clean, got)
        mctest.check(diff and diff == logged, f"{what}: {len(diff)} elements differ, those "
                                              f"holding the {len(logged)} logged bytes")

    def case_contrast(self, kind, path):
        """The same bit flips per 4 KiB anywhere, or inside tensors only: failed loads."""
        name = os.path.basename(path)
        clean = self.load(kind, "load", path)[1]
        failed = {"any": 0, "tensors": 0}
        damaged = 0
        for seed in range(1, CONTRAST_SEEDS + 1):
            for region in failed:
                cfg = self.config(name, "bitflip", CONTRAST_COUNT, seed=seed, region=region)
                answer, got, _ = self.load(kind, "load", path, cfg)
                if not answer or not answer["ok"]:
                    failed[region] += 1
                elif region == "tensors":
                    damaged += bool(self.differing(clean, got))
        print(f"contrast {name}: bitflip count = {CONTRAST_COUNT}, {CONTRAST_SEEDS} seeds: "
              f"region = any broke {failed['any']} of {CONTRAST_SEEDS} loads, region = "
              f"tensors {failed['tensors']} of {CONTRAST_SEEDS} (all of which loaded damaged "
              f"values: {damaged})")
        mctest.check(failed["tensors"] == 0 and damaged == CONTRAST_SEEDS,
                     f"contrast {name}: region = tensors never broke a load, always damaged")
        mctest.check(failed["any"] > 0, f"contrast {name}: region = any broke "
                                        f"{failed['any']} loads")
        return failed

    def graded_config(self, name, keys):
        return HEAD.format(seed=5, log="{log}") + "".join(
            GRADED.format(hook=h, name=name, keys=keys) for h in ("read", "mmap"))

    def graded_load(self, kind, way, path, keys):
        """A load under graded damage: (bits, log lines), bits None when it did not load."""
        answer, got, lines = self.load(kind, way, path,
                                       self.graded_config(os.path.basename(path), keys))
        what = f"{os.path.basename(path)} {keys.strip()!r} {way}"
        mctest.check(answer and answer["ok"], f"{what}: the loader loads ({answer})")
        return (got if answer and answer["ok"] else None), lines

    def check_logged_bits(self, what, clean, got, lines):
        """The values a line lists (the first 64 of each) hold the logged bits."""
        listed = wrong = 0
        for l in lines:
            if l.get("action") != "corrupt" or not l.get("applied"):
                continue
            for ch in l.get("changes", []):
                if "?" in ch["before"]:
                    continue
                listed += 1
                t, i = ch["tensor"], ch["index"]
                wrong += (int(clean[t][i]) != int(ch["before"], 16) or
                          int(got[t][i]) != int(ch["after"], 16))
        mctest.check(listed and not wrong, f"{what}: {listed} logged values, {wrong} of them "
                                           f"not the loaded bits")

    def case_noise(self, kind, path, std, dtype):
        """mode = noise, count = all: the same bits in every way and process, relative change
        of about std, the logged bits loaded, `changed` counting every value."""
        import numpy as np

        name = os.path.basename(path)
        keys = f"mode = noise\nstd = {std}\ncount = all\n"
        clean = self.load(kind, "load", path)[1]
        seen = []
        for way in WAYS[kind] if kind == "torch" else ("load", "mmap", "pread"):
            got, lines = self.graded_load(kind, way, path, keys)
            if got is None:
                continue
            seen.append(got)
            what = f"{name} noise {way}"
            self.check_logged_bits(what, clean, got, lines)
            changed = sum(l.get("changed", 0) for l in lines
                          if l.get("action") == "corrupt" and l.get("applied"))
            diff = self.differing(clean, got)
            # an element cut by a read's edge is counted by both calls: at least every value
            mctest.check(changed >= len(diff) > 0, f"{what}: the log counts {changed} values "
                                                   f"changed, {len(diff)} differ")
            if way == "mmap":  # the header's reads damaged data bytes too, unused
                mapped = sum(l.get("changed", 0) for l in lines if l.get("hook") == "mmap"
                             and l.get("action") == "corrupt" and l.get("applied"))
                mctest.check(mapped == len(diff), f"{what}: the mapping's line counts each "
                                                  f"value once ({mapped} for {len(diff)})")
            rel = []
            for t in clean:
                if clean[t].dtype != np.dtype(f"u{np.dtype(dtype).itemsize}"):
                    mctest.check((got[t] == clean[t]).all(), f"{what}: {t} (not {dtype}) "
                                                             f"left alone")
                    continue
                before = clean[t].view(dtype).astype(np.float64)
                after = got[t].view(dtype).astype(np.float64)
                keep = before != 0  # relative noise leaves zeros at zero
                rel.append(after[keep] / before[keep] - 1)
            rel = np.concatenate(rel)
            print(f"{what}: {rel.size} values, relative change mean {rel.mean():.2e}, "
                  f"sd {rel.std():.3e} (std = {std})")
            mctest.check(abs(rel.std() / std - 1) < 0.1 and abs(rel.mean()) < std / 4,
                         f"{what}: relative change sd {rel.std():.3e}, asked {std}")
        again, _ = self.graded_load(kind, "load", path, keys)
        ways = seen + ([again] if again is not None else [])
        same = all(all((w[t] == ways[0][t]).all() for t in w) for w in ways)
        mctest.check(len(ways) >= 3 and same,
                     f"{name} noise: every way and a second process load the same bits")

    def case_bit_and_fraction(self, paths):
        """bit = 31 negates every float32 and leaves float16 alone; fraction = 10%."""
        import numpy as np

        le, be, half = paths
        for path in (le, be):
            clean = self.load("npy", "load", path)[1]
            for way in ("load", "mmap", "pread"):
                got, lines = self.graded_load("npy", way, path,
                                              "mode = bitflip\nbit = 31\ncount = all\n")
                if got is None:
                    continue
                x = got["array"] ^ clean["array"]
                mctest.check((x == np.uint32(0x80000000)).all(),
                             f"{os.path.basename(path)} bit = 31 {way}: every one of "
                             f"{x.size} values has exactly its sign flipped")
        clean = self.load("npy", "load", half)[1]
        got, lines = self.graded_load("npy", "load", half, "mode = bitflip\nbit = 31\n"
                                                           "count = all\n")
        if got is not None:
            mctest.check((got["array"] == clean["array"]).all(),
                         "half.npy bit = 31: float16 values (16 bits) left alone")
        clean = self.load("npy", "load", be)[1]
        got, lines = self.graded_load("npy", "mmap", be, "mode = sign\nfraction = 10%\n")
        if got is not None:
            n = clean["array"].size
            changed = int((got["array"] != clean["array"]).sum())
            mctest.check(changed == round(n / 10), f"be.npy fraction = 10%: {changed} of {n} "
                                                   f"values negated")

    def case_noise_replay(self, path):
        """scope = call noise on half the preads: `mlchaos replay` of the run's log gives a
        config under which the same load gets the same bits."""
        name = os.path.basename(path)
        keys = "mode = noise\nstd = 0.01\ncount = all\nscope = call\nrate = 50%\n"
        clean = self.load("npy", "load", path)[1]
        got, lines = self.graded_load("npy", "pread", path, keys)  # 64 KiB calls, all used
        rundir = os.path.join(self.tmp, f"run-{self.runs}")
        logs = [f for f in os.listdir(rundir) if f.startswith("log-")]
        faults = [l for l in lines if l.get("event") == "fault" and l.get("applied")]
        if got is None or not mctest.check(len(logs) == 1 and len(faults) >= 2,
                                           f"{name} noise replay: one log, {len(faults)} "
                                           f"faults applied"):
            return
        out = os.path.join(self.tmp, "replay.ini")
        p = subprocess.run([self.mlchaos, "replay", os.path.join(rundir, logs[0]), "-o", out,
                            "--log", "{log}"], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if not mctest.check(p.returncode == 0, f"{name}: mlchaos replay ({p.stderr[-300:]})"):
            return
        with open(out) as f:
            replayed = f.read()
        answer, again, lines2 = self.load("npy", "pread", path, replayed)
        faults2 = [l for l in lines2 if l.get("event") == "fault" and l.get("applied")]
        mctest.check(again is not None and bool(self.differing(clean, got)) and
                     all((again[t] == got[t]).all() for t in got),
                     f"{name} noise replay: the replayed run loads the same bits "
                     f"({len(faults)} faults, replayed {len(faults2)})")

    def main(self):
        import numpy as np
        import torch

        rng = np.random.default_rng(20260101)
        files = {}
        files["le.npy"] = rng.standard_normal((256, 512)).astype(np.float32)
        files["be.npy"] = rng.standard_normal((64, 64)).astype(">f4")
        files["half.npy"] = rng.standard_normal(3000).astype(np.float16)
        for n, arr in files.items():
            np.save(os.path.join(self.tmp, n), arr)
        models = os.path.join(self.tmp, "models")
        os.mkdir(models)
        torch.manual_seed(7)
        model = torch.nn.Sequential()
        model.add_module("attn", torch.nn.Linear(32, 32))
        model.add_module("mlp", torch.nn.Linear(32, 64))
        model.add_module("norm", torch.nn.BatchNorm1d(64))  # its num_batches_tracked: int64
        pt = os.path.join(models, "model.pt")
        torch.save(model.state_dict(), pt)
        paths = [os.path.join(self.tmp, n) for n in files] + [pt]
        sums = {p: sha256_file(p) for p in paths}

        self.case_values("npy", paths[0], "exponent", 5, {"array": 5})
        self.case_values("npy", paths[1], "sign", 7, {"array": 7})
        self.case_values("npy", paths[2], "zero", 9, {"array": 9})
        floats = {k: 3 for k, v in model.state_dict().items() if v.is_floating_point()}
        self.case_values("torch", pt, "inf", 3, floats)
        self.case_nan(pt, "torch", WAYS["torch"])
        self.case_bytes("torch", pt)
        self.case_bytes("npy", paths[1])  # 16 KiB: 4 chunks of 8 flips, all in one line
        self.case_contrast("npy", paths[0])
        self.case_contrast("torch", pt)
        self.case_noise("npy", paths[0], 0.001, np.float32)
        self.case_noise("npy", paths[2], 0.01, np.float16)
        self.case_noise("torch", pt, 0.01, np.float32)
        self.case_bit_and_fraction(paths[:3])
        self.case_noise_replay(paths[0])
        for p in paths:
            mctest.check(sha256_file(p) == sums[p], f"{os.path.basename(p)}: unchanged on disk")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    for module, package in (("numpy", "python3-numpy"), ("torch", "python3-torch")):
        probe = subprocess.run([PY, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            mctest.skip(f"{PY} cannot import {module} (Debian: apt-get install {package})")
    return Tensors.run_all("mlchaos-rs-tensors-", a.mlchaos, a.env)


if __name__ == "__main__":
    sys.exit(main())
