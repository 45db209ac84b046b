#!/usr/bin/python3
"""region = tensors through the real library on safetensors and GGUF files that
mlchaos-tensorgen wrote, loaded by the harness's strict reader (mlchaos-tensorcat) and by
ft-tensorload (each way a loader takes bytes: read, pread, readv, fread, mmap, through a dup'ed
fd, across fork, through an fd opened behind the library's back, and by 8 threads at once), in
chunks of 999 bytes so that buffer edges cut elements in two.

  values      every way gets the same bytes, in two processes; the elements that differ from
              the file are exactly the (tensor, index) pairs the log lists, with its bits; the
              value modes change the f16 scale of Q8_0 blocks (a block is a value) and leave
              int8 tensors alone; the strict reader loads the file
  glob        tensor = layers.0.* with mode = nan: NaNs in those float tensors only, `count`
              each (a Q8_0 block's 32 weights for each NaN scale), as the strict reader counts
              them
  bytes       bitflip inside tensors: the reader loads it; the bytes that differ are the
              logged ones, all inside tensor data
  contrast    the same bit flips with region = any and region = tensors over several seeds:
              how many loads the strict reader refuses (printed); none with region = tensors
  malformed   a safetensors file whose header lies, an ONNX model whose initializer runs past
              its end, a pickle with an unknown opcode: nothing damaged, read or mapped, by
              several fds, and one log line saying why
  full        300 files with a map in one process: the first 256 damaged, the rest left alone
              with one line saying so
  checksum    no file changed on disk
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

WAYS = ("read", "pread", "readv", "fread", "mmap", "dup", "fork", "raw", "threads")
CHUNK = 999
WIDTH = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}  # the float types
# What the value modes change, per dtype: (bytes from one value to the next, offset of the
# value in them, its width): float elements, and the f16 scale d at the start of each Q8_0
# block of 34 bytes. Other types (I8): no value modes.
VALUES = dict({t: (w, 0, w) for t, w in WIDTH.items()}, Q8_0=(34, 0, 2))
BLOCK_WEIGHTS = {"Q8_0": 32}  # weights one scale multiplies
CONTRAST_SEEDS = 8
CONTRAST_COUNT = 64  # bit flips per 4 KiB
TABLE_FILES = 256  # MC_TMAP_FILES

HEAD = "[mlchaos]\nseed = {seed}\nrequest_key = none\nlog = {log}\n"
RULE = """
[fault.{hook}-tensors]
hook = {hook}
action = corrupt
path = {path}
region = {region}
mode = {mode}
count = {count}
damage = tensors
{extra}
"""


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class Tensors(mctest.ChaosRuns):
    def __init__(self, a, tmp):
        super().__init__(a.mlchaos, a.env, tmp)
        self.a = a

    def config(self, path_glob, mode, count, seed=5, region="tensors", extra=""):
        return HEAD.format(seed=seed, log="{log}") + "".join(
            RULE.format(hook=h, path=path_glob, region=region, mode=mode, count=count,
                        extra=extra) for h in ("read", "mmap"))

    def run_status(self, argv, config=None):
        """(exit status, stdout, stderr, log lines) of argv under `mlchaos run` with config;
        a run that timed out is a failure."""
        p, lines, _ = self.run(argv, config)
        if p is None:
            mctest.fail(f"{argv}: no exit in time")
            return -1, "", "timeout", lines
        return p.returncode, p.stdout, p.stderr, lines

    def load(self, way, path, config):
        """ft-tensorload's bytes (and the fork child's), and the log."""
        status, _, err, lines = self.run_status(
            [self.a.load, way, path, os.path.join(self.tmp, "out"), str(CHUNK)], config)
        out = os.path.join(self.tmp, "out")
        got = read_bytes(out) if status == 0 else None
        child = read_bytes(out + ".child") if way == "fork" and status == 0 else None
        for p in (out, out + ".child"):
            if os.path.exists(p):
                os.unlink(p)
        if status != 0:
            mctest.fail(f"ft-tensorload {way} {path}: exit {status}: {err[-500:]}")
        return got, child, lines

    def layout(self, path):
        """The strict reader's list of tensors: name, dtype, offset, bytes."""
        out = subprocess.run([self.a.tensorcat, "--json", path], env=self.env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        return [json.loads(l) for l in out.splitlines()]

    def tensorcat(self, path, how, config):
        """The strict reader under the library: (exit status, its tensors)."""
        status, out, err, lines = self.run_status(
            [self.a.tensorcat, "--json", "--load", how, path], config)
        tensors = [json.loads(l) for l in out.splitlines()] if status == 0 else []
        return status, tensors, err, lines

    # ---- comparing -------------------------------------------------------------------

    @staticmethod
    def element_bits(data, off, width):
        return int.from_bytes(data[off:off + width], "little")

    def differing(self, layout, clean, got):
        """(tensor, element index) of every float element whose bytes differ; ("byte", name,
        index) for a byte of another tensor; ("outside", offset) for a byte in no tensor."""
        diff = set()
        spans = []
        for t in layout:
            w = VALUES.get(t["dtype"], (0,))[0]
            spans.append((t["offset"], t["offset"] + t["bytes"]))
            for i in range(t["offset"], t["offset"] + t["bytes"]):
                if clean[i] != got[i]:
                    rel = i - t["offset"]
                    diff.add((t["name"], rel // w) if w else ("byte", t["name"], rel))
        for i in range(len(clean)):
            if clean[i] != got[i] and not any(a <= i < b for a, b in spans):
                diff.add(("outside", i))
        return diff

    def logged(self, lines, what):
        """The pairs the applied tensor lines list ("byte" entries as in differing()), with
        the bits of the whole elements."""
        pairs = {}
        for l in lines:
            if not l.get("applied") or "changes" not in l:
                continue
            if l.get("changes_truncated"):
                mctest.fail(f"{what}: a line left changes out: the test needs fewer")
            for ch in l["changes"]:
                key = (ch["tensor"], ch["index"]) if "index" in ch else \
                    ("byte", ch["tensor"], ch["byte"])
                pairs.setdefault(key, None)
                if "?" not in ch["before"]:
                    pairs[key] = (int(ch["before"], 16), int(ch["after"], 16), ch["offset"])
        return pairs

    def check_logged(self, what, layout, clean, got, lines):
        diff = self.differing(layout, clean, got)
        logged = self.logged(lines, what)
        mctest.check(diff and set(logged) == diff,
                     f"{what}: {len(diff)} elements differ from the file, the log lists "
                     f"{len(logged)}, the same ones: {set(logged) == diff}")
        wrong = []
        for key, v in logged.items():
            if v is None or key[0] == "byte":
                continue
            width = VALUES[next(t["dtype"] for t in layout if t["name"] == key[0])][2]
            if (self.element_bits(clean, v[2], width), self.element_bits(got, v[2], width)) \
                    != v[:2]:
                wrong.append(key)
        mctest.check(not wrong, f"{what}: the logged bits are the file's and the loaded ones "
                                f"({len(wrong)} wrong)")
        return diff

    # ---- cases ----------------------------------------------------------------------------

    def case_values(self, path, mode, count):
        name = os.path.basename(path)
        layout = self.layout(path)
        clean = read_bytes(path)
        cfg = self.config("*/" + name, mode, count)
        loads = {}
        for way in WAYS:
            got, child, lines = self.load(way, path, cfg)
            if got is None:
                continue
            what = f"{name} {mode} {way}"
            diff = self.check_logged(what, layout, clean, got, lines)
            per = {}
            for d in diff:
                per[d[0]] = per.get(d[0], 0) + 1
            want = {t["name"]: count for t in layout if t["dtype"] in VALUES}
            mctest.check(per == want, f"{what}: changed per tensor {per}, expected {want} "
                                      f"(Q8_0: its blocks' scales; I8 left alone)")
            for t in layout:  # in a block, only the bytes of its scale
                if t["dtype"] not in BLOCK_WEIGHTS:
                    continue
                stride, inner, width = VALUES[t["dtype"]]
                stray = [i for i in range(t["offset"], t["offset"] + t["bytes"])
                         if clean[i] != got[i]
                         and not inner <= (i - t["offset"]) % stride < inner + width]
                mctest.check(not stray, f"{what}: {t['name']}: only scale bytes changed "
                                        f"({len(stray)} others)")
            loads[way] = got
            if child is not None:
                loads["fork child"] = child
        again, _, _ = self.load("read", path, cfg)
        loads["second process"] = again
        same = [w for w, b in loads.items() if b != loads["read"]]
        mctest.check(len(loads) == len(WAYS) + 2 and not same,
                     f"{name} {mode}: every way, the fork child and a second process loaded "
                     f"the same bytes (differing: {same})")
        for how in ("read", "mmap"):
            status, tensors, err, _ = self.tensorcat(path, how, cfg)
            mctest.check(status == 0 and len(tensors) == len(layout),
                         f"{name} {mode}: the strict reader loads it by {how} ({err.strip()})")

    def case_glob(self, path):
        name = os.path.basename(path)
        layout = self.layout(path)
        cfg = self.config("*/" + name, "nan", 5, extra="tensor = layers.0.*")
        for how in ("read", "mmap"):
            status, tensors, err, lines = self.tensorcat(path, how, cfg)
            nans = {t["name"]: t["nan"] for t in tensors if t["nan"]}
            want = {t["name"]: 5 * BLOCK_WEIGHTS.get(t["dtype"], 1) for t in layout
                    if t["name"].startswith("layers.0.") and t["dtype"] in VALUES}
            mctest.check(status == 0 and nans == want,
                         f"{name} tensor = layers.0.* nan by {how}: NaNs {nans}, expected "
                         f"{want} ({err.strip()})")
            got_nan = {ch["tensor"] for l in lines for ch in l.get("changes", [])}
            per_value = {t["name"]: 5 for t in layout if t["name"] in want}
            mctest.check(got_nan == set(want), f"{name} glob {how}: the log names {got_nan}")
        # 8 threads at once: one recognition, one match bitmap of the glob, shared
        got, _, lines = self.load("threads", path, cfg)
        if got is not None:
            diff = self.check_logged(f"{name} glob threads", layout, read_bytes(path), got,
                                     lines)
            per = {}
            for d in diff:
                per[d[0]] = per.get(d[0], 0) + 1
            mctest.check(per == per_value, f"{name} glob threads: changed per tensor {per}")

    def case_bytes(self, path):
        name = os.path.basename(path)
        layout = self.layout(path)
        clean = read_bytes(path)
        cfg = self.config("*/" + name, "bitflip", 4)
        got, _, lines = self.load("pread", path, cfg)
        if got is None:
            return
        diff = self.differing(layout, clean, got)
        logged = set()
        for key in self.logged(lines, name):
            t = next(t for t in layout if t["name"] == key[1])
            w = VALUES.get(t["dtype"], (0,))[0]
            logged.add((key[1], key[2] // w) if w else key)
        mctest.check(diff and diff == logged and not any(d[0] == "outside" for d in diff),
                     f"{name} bitflip in tensors: {len(diff)} elements differ, those of the "
                     f"{len(logged)} logged bytes, none outside tensor data")
        status, _, err, _ = self.tensorcat(path, "read", cfg)
        mctest.check(status == 0, f"{name} bitflip in tensors: the strict reader loads it "
                                  f"({err.strip()})")

    def case_contrast(self, path):
        name = os.path.basename(path)
        failed = {"any": 0, "tensors": 0}
        reasons = set()
        for seed in range(1, CONTRAST_SEEDS + 1):
            for region in failed:
                cfg = self.config("*/" + name, "bitflip", CONTRAST_COUNT, seed=seed,
                                  region=region)
                status, _, err, _ = self.tensorcat(path, "read", cfg)
                if status != 0:
                    failed[region] += 1
                    reasons.add(err.strip().split(": ")[-1][:60])
        print(f"contrast {name}: bitflip count = {CONTRAST_COUNT}, {CONTRAST_SEEDS} seeds: the "
              f"strict reader refused {failed['any']} of {CONTRAST_SEEDS} with region = any, "
              f"{failed['tensors']} of {CONTRAST_SEEDS} with region = tensors; reasons: "
              f"{sorted(reasons)[:4]}")
        mctest.check(failed["tensors"] == 0, f"contrast {name}: region = tensors broke no load")
        mctest.check(failed["any"] > 0, f"contrast {name}: region = any broke "
                                        f"{failed['any']} loads")

    def case_malformed(self, good):
        """A header that points past the end of the file: the recogniser calls it malformed."""
        data = bytearray(read_bytes(good))
        bad = os.path.join(self.tmp, "bad.safetensors")
        with open(bad, "wb") as f:
            f.write(data[:len(data) - 1000])  # the last tensors' data is cut off
        cfg = self.config("*/bad.safetensors", "nan", 3)
        clean = read_bytes(bad)
        seen = []
        notes = []
        for way in ("read", "mmap", "pread"):
            got, _, lines = self.load(way, bad, cfg)
            seen.append(got == clean)
            notes += [l for l in lines if l.get("action") == "corrupt"]
        mctest.check(all(seen), f"malformed: every way loaded the file's own bytes {seen}")
        # one process per way: one line in each, applied false, saying why
        ok = [l for l in notes if not l["applied"] and l.get("format") == "safetensors"
              and l.get("note")]
        mctest.check(len(notes) == 3 and len(ok) == 3,
                     f"malformed: one line per process, saying why: "
                     f"{[l.get('note') for l in notes]}")

    def case_malformed_bytes(self, name, data, fmt):
        """A file of a format with no magic of its own or a walked one (ONNX, pickle) that the
        recogniser calls malformed: left alone, with one line per process saying why."""
        bad = os.path.join(self.tmp, name)
        with open(bad, "wb") as f:
            f.write(data)
        cfg = self.config(f"*/{name}", "nan", 3)
        seen = []
        notes = []
        for way in ("read", "mmap"):
            got, _, lines = self.load(way, bad, cfg)
            seen.append(got == data)
            notes += [l for l in lines if l.get("action") == "corrupt"]
        mctest.check(all(seen), f"malformed {fmt}: every way loaded the file's own bytes {seen}")
        ok = [l for l in notes if not l["applied"] and l.get("format") == fmt and l.get("note")]
        mctest.check(len(notes) == 2 and len(ok) == 2,
                     f"malformed {fmt}: one line per process, saying why: "
                     f"{[(l.get('format'), l.get('note')) for l in notes]}")

    def case_times_spared(self, good):
        """A file with no tensors is no target: a rule with times = 1 that reads it first
        still has its one fault for the model file read after it."""
        d = os.path.join(self.tmp, "spared")
        os.mkdir(d)
        notes = os.path.join(d, "a-notes.txt")
        with open(notes, "w") as f:
            f.write("not a model file\n" * 1000)
        model = os.path.join(d, "b.safetensors")
        shutil.copyfile(good, model)
        cfg = self.config("*/spared/*", "sign", 2, extra="times = 1")
        status, _, err, lines = self.run_status(
            [self.a.load, "many", d, os.path.join(self.tmp, "out-spared")], cfg)
        if not mctest.check(status == 0, f"spared: loaded ({err[-300:]})"):
            return
        got = read_bytes(os.path.join(self.tmp, "out-spared"))
        text = read_bytes(notes)
        mctest.check(got[:len(text)] == text, "spared: the text file read as it is")
        # the one fault is on the model file, where it damages tensor values: the text file
        # is no target, and the model file's header reads, which hold no tensor byte, are
        # no_effect lines that spend nothing of times = 1
        faults = [l for l in lines if l.get("action") == "corrupt"]
        applied = [l for l in faults if l["applied"]]
        mctest.check(len(applied) == 1 and applied[0]["target"].endswith("b.safetensors") and
                     applied[0].get("changed", 0) > 0 and
                     applied[0].get("format") == "safetensors",
                     f"spared: one fault, applied to the model file's tensors: "
                     f"{[(l.get('target'), l.get('applied'), l.get('changed')) for l in faults]}")
        mctest.check(all(l.get("no_effect") and l["target"].endswith("b.safetensors")
                         for l in faults if not l["applied"]),
                     "spared: the other lines are the model file's no_effect reads")

    def case_full(self, good):
        many = os.path.join(self.tmp, "many")
        os.mkdir(many)
        for i in range(TABLE_FILES + 44):
            shutil.copyfile(good, os.path.join(many, f"m{i:04d}.safetensors"))
        layout = self.layout(good)
        clean = read_bytes(good)
        cfg = self.config("*/many/*", "sign", 1)
        status, _, err, lines = self.run_status(
            [self.a.load, "many", many, os.path.join(self.tmp, "out-many")], cfg)
        if not mctest.check(status == 0, f"full: loaded ({err[-300:]})"):
            return
        got = read_bytes(os.path.join(self.tmp, "out-many"))
        n = len(clean)
        damaged = [got[i * n:(i + 1) * n] != clean for i in range(TABLE_FILES + 44)]
        first = damaged.index(False) if False in damaged else len(damaged)
        mctest.check(first == TABLE_FILES and not any(damaged[first:]),
                     f"full: the first {first} files damaged, the other "
                     f"{len(damaged) - first} left alone (expected {TABLE_FILES})")
        full = [l for l in lines if not l["applied"] and "no room" in (l.get("note") or "")]
        mctest.check(len(full) == 1, f"full: one line says so ({len(full)})")
        mctest.check(bool(layout), "full: the file has tensors")

    def main(self):
        files = {}
        for fmt, ext in (("safetensors", "safetensors"), ("gguf", "gguf")):
            p = os.path.join(self.tmp, f"model.{ext}")
            subprocess.run([self.a.tensorgen, "--format", fmt, "-o", p, "--quiet"],
                           env=self.env, check=True)
            files[fmt] = p
        sums = {p: sha256_file(p) for p in files.values()}
        self.case_values(files["safetensors"], "exponent", 3)
        self.case_values(files["gguf"], "nan", 2)
        for p in files.values():
            self.case_glob(p)
            self.case_bytes(p)
            self.case_contrast(p)
        self.case_malformed(files["safetensors"])
        self.case_malformed_bytes("bad.onnx", malformed_onnx(), "onnx")
        self.case_malformed_bytes("bad.pkl", malformed_pickle(), "pickle")
        self.case_times_spared(files["safetensors"])
        self.case_full(files["safetensors"])
        for p in files.values():
            mctest.check(sha256_file(p) == sums[p], f"{os.path.basename(p)}: unchanged on disk")


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(tag, payload):
    """A length-delimited protobuf field: its tag byte, length, payload."""
    return bytes([tag]) + varint(len(payload)) + payload


def malformed_onnx():
    """An ONNX model whose top level is sound (ir_version, producer_name, one graph) but
    whose one initializer says its raw_data runs 4,096 bytes past the end of the initializer:
    recognised as ONNX, then malformed."""
    raw = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    init = field(0x42, b"w") + b"\x10\x01" + b"\x08\x04" + b"\x4a" + varint(4096) + raw
    graph = field(0x2A, init) + field(0x0A, b"node")
    return b"\x08\x08" + field(0x12, b"mlchaos-test") + field(0x3A, graph)


def malformed_pickle():
    """A protocol 4 pickle whose frame holds an opcode pickle does not have (0xff)."""
    body = b"\x8c\x01a\x94\xff."
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--mlchaos", "--tensorgen", "--tensorcat", "--load"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    return Tensors.run_all("mlchaos-ft-tensors-", ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
