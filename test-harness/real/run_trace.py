#!/usr/bin/python3
"""What `mlchaos trace` leads with, on a model server among many files.

model_server.py loads a safetensors file with read() and a GGUF file with numpy.fromfile()
(fread), both written by mlchaos-tensorgen, and a .npy file written here with numpy.load's
mmap, reads 200 other small files, then answers three HTTP requests sent here with
X-Request-Id. Under `mlchaos trace --suggest --json`, the server's table must begin with the
model files, each with its format, its tensor count (read from the file here) and the
function that moved all its bytes; then the socket that carried
the requests, counted as 3 requests, with its recv and send rows; memory; and the other files
folded into one line that counts at least the 200. The JSON has the same sections. The
suggested rules must pass `mlchaos check` and aim at each model file through the family that
loaded it (read for read and fread, mmap for the .npy) and at the port. Under
`--all`, every one of the 200 files has its row and nothing is folded. node_model_server.js
(node's fs.readFileSync and http, requests without X-Request-Id) gets the same checks, its
model files read with read(), and its suggestion selects requests by connection.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "preload"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctrace  # noqa: E402
from mctest import Proc, check, clean_env, fail, finish, note, skip  # noqa: E402

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = 200
REQUESTS = 3
START_S = 120  # importing numpy under the trace, on a busy machine
READ_FNS = {"read", "__read_chk", "pread", "pread64", "readv", "fread", "fread_unlocked",
            "__fread_chk", "__fread_unlocked_chk"}
MAP_FNS = {"mmap", "mmap64"}


def safetensors_tensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return len([k for k in header if k != "__metadata__"])


def gguf_tensors(path):
    with open(path, "rb") as f:
        magic, _version, count = struct.unpack("<4sIQ", f.read(16))
    return count if magic == b"GGUF" else None


class Trace:
    def __init__(self, a):
        self.a = a
        self.env = clean_env(dict(kv.partition("=")[::2] for kv in a.env))

    def make_inputs(self, tmp):
        self.st = os.path.join(tmp, "weights.safetensors")
        self.gguf = os.path.join(tmp, "table.gguf")
        for fmt, path in (("safetensors", self.st), ("gguf", self.gguf)):
            subprocess.run([self.a.tensorgen, "--format", fmt, "-o", path, "--quiet"],
                           check=True)
        self.npy = os.path.join(tmp, "embeddings.npy")
        import numpy  # only here: the probe in main() says whether it is there
        numpy.save(self.npy, numpy.arange(4096, dtype=numpy.float32).reshape(64, 64))
        self.sources = os.path.join(tmp, "src")
        os.mkdir(self.sources)
        for i in range(SOURCES):
            with open(os.path.join(self.sources, f"s{i:03d}.js"), "w") as f:
                f.write(f"module.exports = {i};\n")
        self.tensors = {self.st: ("safetensors", safetensors_tensors(self.st)),
                        self.gguf: ("gguf", gguf_tensors(self.gguf)),
                        self.npy: ("npy", 1)}

    def python_server(self):
        return [PY, os.path.join(HERE, "model_server.py"), self.st, self.gguf, self.npy,
                self.sources, "--requests", str(REQUESTS)]

    def serve(self, label, options, server, tmp, keyed=True):
        """Runs server (its argv) under `mlchaos trace OPTIONS --json`, sends it the requests
        (with X-Request-Id when keyed); returns (server pid, port, stderr, the JSON objects)
        or None."""
        jpath = os.path.join(tmp, f"{label}.json")
        argv = [self.a.mlchaos, "trace"] + options + ["--json", jpath, "--"] + server
        p = Proc(argv, self.env, os.path.join(tmp, f"{label}.err"))
        try:
            line = p.wait_line_working("port ", idle_s=START_S)
            if not check(line is not None, f"{label}: no port from the server\n{p.stderr()}"):
                return None
            w = line.split()
            port, pid = int(w[1]), int(w[3])
            for i in range(REQUESTS):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", f"/predict/{i}",
                             headers={"X-Request-Id": f"req-{i}"} if keyed else {})
                status = conn.getresponse().status
                conn.close()
                check(status == 200, f"{label}: request {i}: status {status}")
            rc = p.wait(120)
        finally:
            p.stop()
        err = p.stderr()
        if not check(rc == 0, f"{label}: server exit {rc}\n{err[-3000:]}"):
            return None
        return pid, port, err, mctrace.load_json(jpath, fail)

    def check_models(self, label, table, obj, fns):
        """fns: the function that must have read each model file."""
        _ppid, _name, _n, rows, titles, heads = table
        check(titles[:1] == ["model files:"],
              f"{label}: the table does not begin with the model files: {titles}")
        for path, (fmt, count) in self.tensors.items():
            head = f"file:{path}: {fmt}, {count} tensor{'s' if count != 1 else ''}"
            check(head in heads[:3], f"{label}: no '{head}' among the first lines: {heads[:4]}")
            size = os.path.getsize(path)
            want_fns = MAP_FNS if fns[path] == "mmap" else READ_FNS
            moved = sum(r[2] for r in rows if r[3] == f"file:{path}" and r[0] in want_fns)
            check(any(r[0] in (want_fns if fns[path] == "mmap" else {fns[path]}) and
                      r[3] == f"file:{path}" for r in rows),
                  f"{label}: no {fns[path]} row for {path}")
            check(moved == size, f"{label}: {path}: {moved} bytes moved by {fns[path]}, the "
                  f"file has {size}")
            m = [x for x in obj.get("models", []) if x.get("path") == path]
            check(len(m) == 1 and m[0].get("format") == fmt and m[0].get("tensors") == count,
                  f"{label}: JSON models entry for {path}: {m}")

    def check_sockets(self, label, table, obj, port, io):
        """io: the functions that must have moved the requests and answers."""
        _ppid, _name, _n, rows, titles, heads = table
        target = f"socket:tcp:{port}"
        check("sockets:" in titles and titles.index("sockets:") == 1,
              f"{label}: the sockets are not the second section: {titles}")
        check(f"{target}: {REQUESTS} requests" in heads,
              f"{label}: no '{target}: {REQUESTS} requests' line: {heads}")
        fns = {r[0] for r in rows if r[3] == target and r[1] > 0}
        check(io <= fns, f"{label}: {target}: functions {sorted(fns)}, expected {sorted(io)}")
        s = [x for x in obj.get("sockets", []) if x.get("target") == target]
        check(len(s) == 1 and s[0].get("requests") == REQUESTS,
              f"{label}: JSON sockets entry for {target}: {s}")

    def check_folded(self, label, table, obj):
        _ppid, _name, _n, rows, titles, _heads = table
        check("memory:" in titles, f"{label}: no memory section: {titles}")
        folded = [t for t in titles if t.startswith("other files:")]
        m = re.match(r"other files: (\d+) files", folded[0]) if folded else None
        check(m is not None and int(m.group(1)) >= SOURCES,
              f"{label}: no folded line counting the {SOURCES} files: {titles}")
        shown = [r for r in rows if r[3].startswith(f"file:{self.sources}/")]
        check(not shown, f"{label}: {len(shown)} rows of the other files are shown")
        files = obj.get("other_files", {}).get("files", 0)
        check(files >= SOURCES, f"{label}: JSON other_files: {obj.get('other_files')}")

    def check_suggestion(self, label, err, pid, port, fns, tmp, keyed=True):
        block = re.search(rf"^; mlchaos trace --suggest: pid {pid} .*?^; end of the suggested "
                          r"rules$", err, re.M | re.S)
        if not check(block is not None, f"{label}: no suggested rules for pid {pid}"):
            return
        ini = block.group(0)
        path = os.path.join(tmp, "suggested.ini")
        with open(path, "w") as f:
            f.write(ini + "\n")
        p = subprocess.run([self.a.mlchaos, "check", path], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0,
              f"{label}: mlchaos check of the suggestion: exit {p.returncode}\n"
              f"{p.stdout.decode(errors='replace')}\n{ini}")
        for model, fn in fns.items():
            hook = "mmap" if fn == "mmap" else "read"
            check(re.search(rf"^hook = {hook}\npath = {re.escape(model)}\naction = corrupt\n"
                            r"region = tensors$", ini, re.M) is not None,
                  f"{label}: no {hook} rule on the tensors of {model}:\n{ini}")
        check(re.search(rf"^hook = send\nport = {port}\nselect = request$", ini, re.M)
              is not None, f"{label}: no request rule on port {port}:\n{ini}")
        by_connection = re.search(r"^\[mlchaos\]\nrequest_key = connection$", ini, re.M)
        check((by_connection is None) == keyed,
              f"{label}: requests {'with' if keyed else 'without'} X-Request-Id, "
              f"request_key = connection {'set' if by_connection else 'not set'}:\n{ini}")
        print(f"{label}: suggestion checked:\n{ini}")

    def default_round(self, label, server, fns, io, tmp, keyed=True):
        got = self.serve(label, ["--suggest"], server, tmp, keyed)
        if got is None:
            return
        pid, port, err, objs = got
        by_pid = mctrace.index_by_pid(objs, fail)
        table = mctrace.parse_table(err).get(pid)
        if not check(table is not None and pid in by_pid,
                     f"{label}: no table or JSON for the server (pid {pid})\n{err[-3000:]}"):
            return
        print("\n".join(err.splitlines()[:20]))
        self.check_models(label, table, by_pid[pid], fns)
        self.check_sockets(label, table, by_pid[pid], port, io)
        self.check_folded(label, table, by_pid[pid])
        mctrace.check_table(err, by_pid, fail)
        self.check_suggestion(label, err, pid, port, fns, tmp, keyed)

    def node_round(self, tmp):
        node = shutil.which("node", path=self.env.get("PATH"))
        if node is None:
            note("node not found (Debian: apt-get install nodejs): its round is skipped")
            return
        server = [node, os.path.join(HERE, "node_model_server.js"), self.st, self.gguf,
                  self.npy, self.sources, str(REQUESTS)]
        # libuv reads files and sockets with read(2) and answers with writev(2)
        self.default_round("trace node", server,
                           {self.st: "read", self.gguf: "read", self.npy: "read"},
                           {"read", "writev"}, tmp, keyed=False)

    def all_round(self, tmp):
        got = self.serve("trace-all", ["--all"], self.python_server(), tmp)
        if got is None:
            return
        pid, _port, err, objs = got
        by_pid = mctrace.index_by_pid(objs, fail)
        table = mctrace.parse_table(err).get(pid)
        if not check(table is not None, f"trace --all: no table for pid {pid}"):
            return
        _ppid, _name, _n, rows, titles, _heads = table
        listed = {r[3] for r in rows if r[3].startswith(f"file:{self.sources}/") and
                  r[0] in READ_FNS and r[2] > 0}
        check(len(listed) == SOURCES, f"trace --all: {len(listed)} of the {SOURCES} files "
              "have a read row")
        check("other files:" in titles, f"trace --all: no 'other files:' title: {titles}")
        check(not any(t.startswith("other files: ") for t in titles),
              f"trace --all: a folded line: {titles}")
        check("; mlchaos trace --suggest" not in err, "trace --all: suggestions unasked for")
        mctrace.check_table(err, by_pid, fail, all_rows=True)

    def main(self):
        probe = subprocess.run([PY, "-c", "import numpy"], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            skip(f"{PY} cannot import numpy (Debian: apt-get install python3-numpy, "
                 "which scripts/setup does)")
        tmp = tempfile.mkdtemp(prefix="mlchaos-trace-")
        try:
            self.make_inputs(tmp)
            self.default_round("trace", self.python_server(),
                               {self.st: "read", self.gguf: "fread", self.npy: "mmap"},
                               {"recv", "send"}, tmp)
            self.all_round(tmp)
            self.node_round(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--tensorgen", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    sys.exit(Trace(ap.parse_args()).main())


if __name__ == "__main__":
    main()
