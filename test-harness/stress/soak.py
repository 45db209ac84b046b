#!/usr/bin/python3
"""Soak: the reference model server under rules that fire, under load, with its config
reloaded again and again; its memory, fds and threads must stay flat and its log lose
nothing.

    soak.py --mlchaos BIN --server BIN --gen BIN [--seconds S] [--reload-every S]
            [--max-growth-kib K] [--sanitize]

The server (4 request threads) runs preloaded with libmlchaos.so (found next to the command,
as `mlchaos run` finds it) and a config whose rules delay a share of the responses, fail a
share of the model file's re-reads and log every fault; `mlchaos load` keeps 4 requests in
flight the whole time; `mlchaos reload PID` swaps the rule set every --reload-every seconds.
Each reload replaces a snapshot of the rules that threads were deciding with: before the
library freed replaced snapshots, each reload kept about 7.6 KB (9.2 MB in 13 minutes at one
reload a second). After a warm-up of a fifth of the run, RSS may grow at most
--max-growth-kib (the median of the last samples against the median of the first ones after
the warm-up); open files and threads must end as they were after the warm-up, and the
load's connections be closed once it stops; `mlchaos stats` must show no log line dropped
and every reload done. Under --sanitize (ASan keeps freed
memory in quarantine) RSS is reported, not bounded.

The 10-minute soak of RESULTS.md: --seconds 600 --reload-every 1. The suite runs a shorter
one with reloads 20 times as often (more reloads in all). Exit status: 0 passed, 1 failed.
Every process started is killed by pid at the end.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, fail_on_sigterm, finish, poll  # noqa: E402

CONFIG = """\
[mlchaos]
seed = 7
log = {log}

[fault.slow-answers]
hook = send
action = delay
delay = 200us
rate = 10%
select = request

[fault.reread-fails]
hook = read
action = fail
errno = EIO
path = {model}
phase = serve
rate = 50%

[fault.watch-allocations]
hook = malloc
action = fail
rate = 1%
min_size = 1MiB
shadow = true
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError("no VmRSS")


def count(path):
    return len(os.listdir(path))


def fds(pid):
    """(files, sockets) the process has open. Sockets come and go with the load's
    connections (`mlchaos load` runs one after another): only files must stay flat while it
    runs, and the sockets must be back to the listening ones once it stops."""
    files = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    return files, sockets


class Soak:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="mlchaos-soak-")
        self.procs = []
        self.pid = None

    def start_server(self):
        model = os.path.join(self.tmp, "model.bin")
        subprocess.run([self.a.gen, "-o", model, "--quiet"], check=True)
        ini = os.path.join(self.tmp, "soak.ini")
        self.log = os.path.join(self.tmp, "faults.jsonl")
        with open(ini, "w") as f:
            f.write(CONFIG.format(log=self.log, model=model))
        ready = os.path.join(self.tmp, "ready")
        # --watch-ms 50: the server re-reads its model file often, so read rules fire too
        server = subprocess.Popen(
            [self.a.mlchaos, "run", "-c", ini, "--", self.a.server, "--model", model,
             "--port", "0", "--threads", "4", "--ready-file", ready, "--watch-ms", "50",
             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    port = f.read().strip()
                if port.isdigit():
                    self.port = int(port)
                    # `mlchaos run` may start the server as its child: the server says its pid
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/model", timeout=10) as r:
                        self.pid = json.load(r)["pid"]
                    return
            if server.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("the server did not start: " + server.stderr.read()[-400:])

    def load(self):
        """`mlchaos load` runs, one after another, for as long as the soak lasts."""
        return subprocess.Popen(
            ["/bin/sh", "-c",
             f'while :; do "$0" load -n 20000 -c 4 --id-prefix soak '
             f'http://127.0.0.1:{self.port}/predict >/dev/null 2>&1 || sleep 0.1; done',
             self.a.mlchaos], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def stats(self):
        out = subprocess.run([self.a.mlchaos, "stats", "--json", str(self.pid)],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        return json.loads(out)["processes"][0]

    def sample(self):
        """(RSS KiB, open files, threads)."""
        return (rss_kib(self.pid), fds(self.pid)[0], count(f"/proc/{self.pid}/task"))

    def run(self):
        a = self.a
        self.start_server()
        listening = fds(self.pid)[1]
        loader = self.load()
        self.procs.append(loader)
        start = time.monotonic()
        warm_end = start + a.seconds / 5
        next_reload = start + a.reload_every
        next_sample = start
        samples, reloads, failed = [], 0, 0
        baseline = None
        while time.monotonic() < start + a.seconds:
            now = time.monotonic()
            if now >= next_reload:
                r = subprocess.run([a.mlchaos, "reload", str(self.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
                reloads += 1
                if r.returncode != 0:
                    failed += 1
                    if failed <= 3:
                        print("reload failed: " + r.stderr.strip()[-200:], flush=True)
                next_reload = max(next_reload + a.reload_every, time.monotonic())
            if now >= next_sample:
                s = self.sample()
                if now >= warm_end:
                    if baseline is None:
                        baseline = s
                    samples.append(s)
                next_sample += 1.0
            time.sleep(min(0.01, a.reload_every / 4))
        os.killpg(loader.pid, 9)
        loader.wait()
        st = self.stats()
        self.report(samples, baseline, reloads, failed, st)
        left = poll(lambda: fds(self.pid)[1] <= listening, 10)
        check(left, f"the load's connections closed once it stopped ({fds(self.pid)[1]} "
                    f"sockets, {listening} before the load)")

    def report(self, samples, baseline, reloads, failed, st):
        a = self.a
        rss = [s[0] for s in samples]
        k = max(3, len(rss) // 5)
        first, last = statistics.median(rss[:k]), statistics.median(rss[-k:])
        growth = last - first
        faults = 0  # the counters start anew at each reload: the log has them all
        with open(self.log, errors="replace") as f:
            for line in f:
                faults += '"event":"fault"' in line and '"applied":true' in line
        print(f"soak: {a.seconds:.0f} s, {reloads} reloads ({failed} failed), "
              f"{faults} faults applied; RSS after warm-up {first:.0f} KiB, at the end "
              f"{last:.0f} KiB ({growth:+.0f} KiB, {growth * 1024 / max(reloads, 1):+.0f} "
              f"bytes a reload); open files {baseline[1]} -> {samples[-1][1]}, threads "
              f"{baseline[2]} -> {samples[-1][2]}; log lines {st['events_logged']} logged, "
              f"{st['events_dropped']} dropped", flush=True)
        check(failed == 0, "every reload was taken")
        check(faults > 0, "the rules fired")
        check(st["events_dropped"] == 0, "no log line dropped")
        check(samples[-1][1] <= baseline[1], "open files flat")
        check(samples[-1][2] <= baseline[2], "threads flat")
        if a.sanitize:
            print("RSS not bounded under a sanitizer (freed memory stays in quarantine)")
        else:
            check(growth <= a.max_growth_kib,
                  f"RSS grew {growth:.0f} KiB after warm-up (at most "
                  f"{a.max_growth_kib} KiB)")

    def cleanup(self):
        """Every process started, the server by its own pid (`mlchaos run` may have started it
        as a child, which killing the command would leave running), then the files."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--reload-every", type=float, default=1.0)
    ap.add_argument("--max-growth-kib", type=int, default=1024)
    ap.add_argument("--sanitize", action="store_true")
    a = ap.parse_args()
    soak = Soak(a)
    fail_on_sigterm()
    try:
        soak.run()
    finally:
        soak.cleanup()
    return finish("soak")


if __name__ == "__main__":
    sys.exit(main())
