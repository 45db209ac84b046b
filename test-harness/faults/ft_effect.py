#!/usr/bin/python3
"""Only damage that happened is counted, and a request selected for corruption is damaged:
the real library under `mlchaos run`, in Python processes (Debian's python3) that read a
model file and serve requests on a loopback socket.

  tensors-times   region = tensors, times = 1, rate 100%: the loader reads the 8-byte length,
                  the header, then the weights; the header reads hold no tensor byte and
                  must not spend the one fault: the weights get their NaN
  counted         the same with times unlimited: `stats` injected equals the log's corrupt
                  lines with changed > 0, the reads that changed nothing are no_effect (log
                  "applied":false, "no_effect":true; stats no_effect), and `report` agrees
  requests        a server reads ~340-byte HTTP requests (one recv each, several requests per
                  connection) under `select = request, rate = 50%, count = 1`: exactly the
                  requests `mlchaos select` names are damaged (at least one byte), the others
                  arrive intact, and the log's keys are the damaged requests' own
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

VALUES = 4096  # f32 values of the one tensor

# Reads a safetensors file as loaders do (length, header, data), reports the NaNs it loaded
# and its own `mlchaos stats --json` (asked while it lives), as one JSON line.
LOADER = r"""
import json, math, os, struct, subprocess, sys
path, mlchaos = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
n = struct.unpack("<Q", os.read(fd, 8))[0]
header = json.loads(os.read(fd, n))
data = b""
while True:
    chunk = os.read(fd, 4096)
    if not chunk:
        break
    data += chunk
os.close(fd)
vals = struct.unpack("<%df" % (len(data) // 4), data)
nans = sum(1 for v in vals if math.isnan(v))
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
st = subprocess.run([mlchaos, "stats", "--json", str(os.getpid())], env=env,
                    stdout=subprocess.PIPE, text=True)
print(json.dumps({"nans": nans, "values": len(vals), "header": sorted(header),
                  "stats": json.loads(st.stdout) if st.returncode == 0 else None}))
"""

# An HTTP/1.1 server on 127.0.0.1: each request arrives in one recv; it answers with the
# bytes it received, in hex, so the client sees exactly what the process read.
SERVER = r"""
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
print(srv.getsockname()[1], flush=True)
done = False
while not done:
    conn, _ = srv.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            if data == b"quit":
                done = True
                break
            body = data.hex().encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
"""

TENSOR_RULE = """[mlchaos]
seed = 11
request_key = none
log = {log}

[fault.weights]
hook = read
action = corrupt
path = */model.safetensors
region = tensors
mode = nan
count = 1
rate = 100%
select = call
"""

REQUEST_RULE = """[mlchaos]
seed = 3
request_key = header:X-Request-Id
log = {log}

[fault.inputs]
hook = read
action = corrupt
port = {port}
mode = bitflip
count = 1
rate = 50%
select = request
"""


def safetensors(path):
    """One f32 tensor of VALUES ones, its header padded to 8 bytes."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [VALUES],
                               "data_offsets": [0, 4 * VALUES]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0) * VALUES)


class Effect(mctest.ChaosRuns):
    def __init__(self, a, tmp):
        super().__init__(a.mlchaos, a.env, tmp)
        self.a = a

    def load(self, config):
        model = os.path.join(self.tmp, "model.safetensors")
        safetensors(model)
        p, lines, rundir = self.run([sys.executable, "-c", LOADER, model, self.mlchaos], config)
        out = None
        if p is None or p.returncode != 0:
            mctest.fail(f"the loader failed: {p and p.returncode}: {p and p.stderr[-1500:]}")
        else:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        return out, lines, rundir

    def tensors_times(self):
        out, lines, _ = self.load(TENSOR_RULE + "times = 1\n")
        if not out:
            return
        print(f"times = 1: {out['nans']} NaN of {out['values']}; log: "
              f"{[(l.get('applied'), l.get('changed'), l.get('note')) for l in lines]}")
        mctest.check(out["nans"] == 1, f"the one fault damaged the weights: {out['nans']} NaN")
        applied = [l for l in lines if l.get("applied")]
        mctest.check(len(applied) == 1 and applied[0].get("changed") == 1,
                     f"one applied line, one value changed: {applied}")
        no_effect = [l for l in lines if l.get("no_effect")]
        mctest.check(len(no_effect) >= 2 and all(l.get("applied") is False and l.get("note")
                                                 for l in no_effect),
                     f"the header reads are no_effect lines with a note: {no_effect}")

    def counted(self):
        out, lines, rundir = self.load(TENSOR_RULE)
        if not out or not mctest.check(out["stats"] is not None, "stats of the live loader"):
            return
        rule = out["stats"]["processes"][0]["rules"][0]
        changed = [l for l in lines if l.get("changed", 0) > 0]
        no_effect = [l for l in lines if l.get("no_effect")]
        print(f"stats: {rule}; log: {len(changed)} lines changed > 0, "
              f"{len(no_effect)} no_effect")
        mctest.check(rule["injected"] == len(changed),
                     f"stats injected {rule['injected']} == {len(changed)} lines changed > 0")
        mctest.check(rule["applied"] == len(changed),
                     f"stats applied {rule['applied']} == {len(changed)}")
        mctest.check(rule["no_effect"] == len(no_effect) and len(no_effect) >= 2,
                     f"stats no_effect {rule['no_effect']} == {len(no_effect)} log lines")
        mctest.check(out["nans"] == len(changed), f"{out['nans']} NaN loaded, one per line")
        logs = [os.path.join(rundir, n) for n in os.listdir(rundir) if n.endswith(".jsonl")]
        r = subprocess.run([self.mlchaos, "report", "--json"] + logs, env=self.env,
                           stdout=subprocess.PIPE, text=True)
        rep = json.loads(r.stdout) if r.returncode == 0 else {}
        rules = {t["rule"]: t for t in rep.get("rules", [])} if rep else {}
        w = rules.get("weights", {})
        mctest.check(w.get("injected") == len(changed) and
                     w.get("no_effect") == len(no_effect) and w.get("not_applied") == 0,
                     f"report: injected {w.get('injected')}, no_effect {w.get('no_effect')}, "
                     f"not_applied {w.get('not_applied')}")

    def requests(self):
        port_probe = socket.socket()
        port_probe.bind(("127.0.0.1", 0))
        port = port_probe.getsockname()[1]
        port_probe.close()
        cfg = os.path.join(self.tmp, "requests.ini")
        log = os.path.join(self.tmp, "req-%p.jsonl")
        with open(cfg, "w") as f:
            f.write(REQUEST_RULE.format(log=log, port=port))
        proc = mctest.Proc([self.mlchaos, "run", "-c", cfg, "--", sys.executable, "-c",
                            SERVER, str(port)], self.env, os.path.join(self.tmp, "server.stderr"))
        try:
            line = proc.wait_line(str(port), 30)
            if not mctest.check(line is not None, f"server listening on {port}: "
                                                  f"{proc.stderr()[-500:]}"):
                return
            self.serve(cfg, port, log)
        finally:
            proc.stop()

    def serve(self, cfg, port, log):
        keys = [f"req-{i:03d}" for i in range(60)]
        sent, got = {}, {}
        for conn_no in range(6):  # ten requests per connection: keep-alive
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            for key in keys[conn_no * 10:(conn_no + 1) * 10]:
                body = b'{"features":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]}' + b" " * 180
                req = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"X-Request-Id: " + key.encode() + b"\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % len(body)) + body
                sent[key] = req
                s.sendall(req)
                got[key] = read_answer(s)
            s.close()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"quit")
        sel = subprocess.run([self.mlchaos, "select", "-c", cfg, "inputs"] + keys,
                             env=self.env, stdout=subprocess.PIPE, text=True)
        selected = {l.split()[0] for l in sel.stdout.splitlines() if l.endswith(" selected")}
        damaged = {k for k in keys if got[k] is not None and got[k] != sent[k]}
        lost = [k for k in keys if got[k] is None]
        print(f"{len(keys)} requests of {len(sent[keys[0]])} bytes: {len(selected)} selected, "
              f"{len(damaged)} damaged")
        mctest.check(not lost, f"every request answered: {lost}")
        mctest.check(0 < len(selected) < len(keys), f"{len(selected)} selected of {len(keys)}")
        mctest.check(damaged == selected,
                     f"the damaged requests are the selected ones: selected, not damaged "
                     f"{sorted(selected - damaged)}; damaged, not selected "
                     f"{sorted(damaged - selected)}")
        lines = []  # `mlchaos run` starts the server as its child: one log, its pid's
        for name in os.listdir(os.path.dirname(log)):
            if name.startswith("req-") and name.endswith(".jsonl"):
                lines += mctest.read_log(os.path.join(os.path.dirname(log), name), mctest.fail)
        faulted = {l.get("key") for l in lines if l.get("applied")}
        mctest.check(faulted == damaged, f"the log's keys are the damaged requests: "
                                         f"{sorted(faulted ^ damaged)} differ")

    def main(self):
        self.tensors_times()
        self.counted()
        self.requests()


def read_answer(s):
    """The bytes the server read, from its hex answer; None when it did not answer."""
    body = mctest.http_answer(s)
    return None if body is None else bytes.fromhex(body.decode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    return Effect.run_all("mlchaos-ft-effect-", ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
