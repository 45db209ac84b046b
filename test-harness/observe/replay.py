#!/usr/bin/python3
"""Integration tests of `mlchaos replay`: a logged run's faults, injected again.

replay.py --lib LIB --mlchaos MLCHAOS --target OBS_TARGET --wd-server WD_SERVER
          --server MODEL_SERVER --load LOAD --gen GEN [--preload-before SO] TEST

server: the reference model server runs under a config with every kind of rule (a delay with
jitter by request key, a failure with an errno list by call, a short read and a scope = call
corruption of the model file, rules of phase load and of phase serve) and serves keyed requests
from mlchaos-load; `mlchaos replay` turns its event log into a config; the same server and load
under that config must make the same decisions: with one worker thread and one connection,
every fault line equal to the original's (rule, function, target, key, thread, call, action,
errno, delay asked, bytes allowed, offset, bytes changed, phase); with four threads and four
connections, the same faults for the same request keys and, on the main thread that loads the
model, the same faults call for call. The per-phase counters of the original run are checked
while it serves.
log: the command against logs written here: several processes, torn and foreign lines, a
reload, a missing rules line, keys that need escaping, shadow and unapplied faults, --rule.
outputs: -o onto a FIFO, a symbolic link, a file others may write, another user's file (as
root): exit 2, one message, the file as it was; a file of ours replaced, a new one 0600.
Exit 0 pass, 1 fail, 2 usage, 77 skip.
"""

import argparse
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import observe  # noqa: E402  (the same directory: Ctx, read_log)
from mctest import fail_on_sigterm, note, require, run_case  # noqa: E402  (via observe)
from observe import read_log  # noqa: E402

DEADLINE_S = 20
OUTPUT_BOUND_S = 20  # a refused output is refused at once: far below, on any machine
REQUESTS = 160

# Fault-line fields a decision is compared on: what was decided, not when or how long it took
# (time, mono_ns, pid, tid, slept_ns and the draw's own text are left out; the draw shows in
# errno, delay_ns, allowed and changed).
DECISION = ("event", "rule", "hook", "fn", "action", "target", "key", "thread", "call", "errno",
            "delay_ns", "asked", "allowed", "offset", "bytes", "changed", "phase", "shadow",
            "applied", "draw")

CONFIG = """[mlchaos]
seed = 2024
log = {log}

; keyed delays first: a request's delay never depends on which call it was
[fault.slow-keyed]
hook = send
action = delay
delay = 200us
jitter = 800us
rate = 30%
select = request
phase = serve

[fault.reset-some]
hook = send
action = fail
errno = ECONNRESET, EPIPE
select = call
rate = 4%
phase = serve

; the model's loading: a read that is not cut short reads the rest of the file, so the
; corruption comes first, rarely, and every other read is cut short
[fault.rot-load]
hook = read
action = corrupt
path = */model.bin
; the 64-byte header stays intact: the server must start
offset = 64-
scope = call
count = 2
select = call
rate = 5%
phase = load

[fault.short-load]
hook = read
action = short
path = */model.bin
max_bytes = 1000
select = call
phase = load
"""

LOAD_RULES = ("short-load", "rot-load")
SERVE_RULES = ("slow-keyed", "reset-some")


def decisions(events):
    """The fault lines as tuples of DECISION; the server's port (chosen anew in every run)
    is left out of socket targets."""
    out = []
    for e in events:
        d = dict(e)
        if isinstance(d.get("target"), str):
            d["target"] = re.sub(r"^socket:tcp:\d+$", "socket:tcp", d["target"])
        out.append(tuple(d.get(k) for k in DECISION))
    return out


class Server:
    """The reference model server under the library, on a port of its choosing."""

    def __init__(self, ctx, args, model, config, threads, name):
        self.ready = ctx.path("ready-" + name)
        self.err = ctx.path("server-%s.err" % name)
        argv = [args.server, "--model", model, "--port", "0", "--ready-file", self.ready,
                "--threads", str(threads), "--watch-ms", "0", "--quiet"]
        self.p = ctx.spawn_plain(argv, env=ctx.preload_env(config), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=open(self.err, "wb"))
        end = time.monotonic() + DEADLINE_S
        while not os.path.exists(self.ready) or not open(self.ready).read().strip():
            require(self.p.poll() is None, "server %s exited at start: %s" % (name, self.stderr()))
            require(time.monotonic() < end, "server %s: no ready file" % name)
            time.sleep(0.01)
        self.port = int(open(self.ready).read())
        self.pid = self.p.pid

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        status = self.p.wait(timeout=DEADLINE_S)
        require(status == 0, "server exited %d: %s" % (status, self.stderr()))


class Bench:
    """A model, its data set, and runs of server + load under a config."""

    def __init__(self, ctx, args):
        self.ctx, self.args = ctx, args
        self.model = ctx.path("model.bin")
        self.data = ctx.path("data.jsonl")
        subprocess.run([args.gen, "--quiet", "--seed", "7", "--shape", "64-256-8", "-o",
                        self.model, "--dataset", self.data, "--samples", "200"], check=True)

    def run(self, config, log, threads, conns, name, while_serving=None):
        """One run; returns the fault lines of the server's log (the rules line apart)."""
        srv = Server(self.ctx, self.args, self.model, config, threads, name)
        load = subprocess.run([self.args.load, "--port", str(srv.port), "-n", str(REQUESTS),
                               "-c", str(conns), "--dataset", self.data, "--id-prefix", "rq",
                               "--json"], capture_output=True, text=True,
                              timeout=DEADLINE_S * 3)
        require(load.returncode == 0, "%s: mlchaos-load exited %d: %s"
                % (name, load.returncode, load.stderr))
        if while_serving:
            while_serving(srv)
        srv.stop()
        path = log.replace("%p", str(srv.pid))
        return srv.pid, path, read_log(path)


def check_phase_counters(ctx, srv):
    """While the original serves: the applied faults of load rules all counted as loading,
    those of serve rules as serving, in stats and in the metrics' phase label."""
    proc = ctx.stats(srv.pid)
    for r in proc["rules"]:
        ph = r["by_phase"]
        want_load = r["applied"] if r["name"] in LOAD_RULES else 0
        require(ph["load"]["applied"] == want_load and
                ph["serve"]["applied"] == r["applied"] - want_load,
                "rule %s: applied %d, by phase %s" % (r["name"], r["applied"], ph))
        require(r["applied"] > 0, "rule %s never fired: the test would say nothing" % r["name"])
    text = ctx.mlchaos("metrics", expect=0).stdout
    for name in LOAD_RULES + SERVE_RULES:
        phase = "load" if name in LOAD_RULES else "serve"
        other = "serve" if phase == "load" else "load"
        m = re.search(r'mlchaos_faults_injected_total\{rule="%s",[^}]*pid="%d",phase="%s"\} '
                      r'(\d+)' % (name, srv.pid, other), text)
        require(m and m.group(1) == "0", "metrics: %s in phase %s: %s"
                % (name, other, m and m.group(0)))
    st = ctx.mlchaos("stats", srv.pid, expect=0).stdout
    require("at_load" in st and "at_serve" in st, "stats text without the phase columns:\n" + st)


def replay_of(ctx, log, out, replay_log):
    r = ctx.mlchaos("replay", log, "-o", out, "--log", replay_log)
    require(r.returncode == 0, "mlchaos replay %s: exit %d\n%s%s"
            % (log, r.returncode, r.stdout, r.stderr))
    note(r.stdout.strip())
    text = open(out).read()
    require("rate =" not in text, "the replay config keeps a rate:\n" + text)
    ctx.mlchaos("check", out, expect=0)
    return text


def test_server(ctx, args):
    bench = Bench(ctx, args)
    # one worker thread, one connection: every decision again, in the same order
    log = ctx.path("orig-%p.jsonl")
    cfg = ctx.write("orig.ini", CONFIG.format(log=log))
    _, orig_path, orig = bench.run(cfg, log, 1, 1, "orig",
                                   while_serving=lambda s: check_phase_counters(ctx, s))
    by_rule = {n: sum(1 for e in orig if e["rule"] == n) for n in LOAD_RULES + SERVE_RULES}
    note("original run: %d faults %s" % (len(orig), by_rule))
    require(all(by_rule.values()), "every rule fired: %s" % by_rule)
    require(all(e["phase"] == ("load" if e["rule"] in LOAD_RULES else "serve") for e in orig),
            "a fault logged in the wrong phase")
    rlog = ctx.path("replay-%p.jsonl")
    text = replay_of(ctx, orig_path, ctx.path("replay.ini"), rlog)
    require("replay_key = rq-" in text and re.search(r"^replay = 0:1:[0-9a-f]{16}", text, re.M),
            "the lists: keys for slow-keyed, calls for the others:\n" + text)
    _, _, again = bench.run(ctx.path("replay.ini"), rlog, 1, 1, "replay")
    a, b = decisions(orig), decisions(again)
    if a != b:
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                note("first difference, fault %d:\n  original %s\n  replayed %s" % (i, x, y))
                break
    require(a == b, "the replayed run decided otherwise: %d faults, original %d"
            % (len(b), len(a)))

    # four threads, four connections: the same faults for the same requests
    log4 = ctx.path("orig4-%p.jsonl")
    cfg4 = ctx.write("orig4.ini", CONFIG.format(log=log4))
    _, orig4_path, orig4 = bench.run(cfg4, log4, 4, 4, "orig4")
    rlog4 = ctx.path("replay4-%p.jsonl")
    replay_of(ctx, orig4_path, ctx.path("replay4.ini"), rlog4)
    _, _, again4 = bench.run(ctx.path("replay4.ini"), rlog4, 4, 4, "replay4")

    def keyed(events):
        out = {}
        for e in events:
            if e["rule"] == "slow-keyed":
                out.setdefault(e["key"], []).append((e["action"], e["delay_ns"], e["phase"]))
        return {k: sorted(v) for k, v in out.items()}

    k1, k2 = keyed(orig4), keyed(again4)
    require(len(k1) > REQUESTS // 8, "only %d keyed faults" % len(k1))
    require(k1 == k2, "keyed faults differ: only in the original %s, only in the replay %s"
            % (sorted(set(k1) - set(k2))[:5], sorted(set(k2) - set(k1))[:5]))
    load1 = decisions(e for e in orig4 if e["rule"] in LOAD_RULES)
    load2 = decisions(e for e in again4 if e["rule"] in LOAD_RULES)
    require(load1 == load2 and load1, "the model's load (main thread) decided otherwise")


# ---- the command against written logs -----------------------------------------------------

def rules_line(pid, rules, generation=0, request_key="header:X-Request-Id", line_time=0):
    return {"time": "2030-01-01T00:00:00.%06dZ" % line_time, "mono_ns": 1, "pid": pid,
            "tid": pid, "event": "rules", "config": "/etc/chaos.ini", "generation": generation,
            "seed": 9, "request_key": request_key,
            "mlchaos": [["seed", "9"], ["log", "/var/log/x-%p.jsonl"], ["max_faults", "5"]],
            "rules": [{"name": n, "line": 3 + i, "enabled": True, "shadow": False, "keys": k}
                      for i, (n, k) in enumerate(rules)]}


def fault(pid, rule, thread, call, draw, key=None, applied=True, event="fault", **extra):
    e = {"time": "2030-01-01T00:00:01.000000Z", "mono_ns": 2, "pid": pid, "tid": pid,
         "event": event, "rule": rule, "hook": "read", "fn": "read", "action": "fail",
         "target": "anon", "key": key, "phase": "load", "thread": thread, "call": call,
         "draw": "%016x" % draw, "shadow": event == "would_inject", "applied": applied}
    e.update(extra)
    return e


def write_log(ctx, name, lines):
    """lines: dicts (one JSON line each) or bytes (written as they are)."""
    with open(ctx.path(name), "wb") as f:
        for x in lines:
            f.write(x if isinstance(x, bytes) else (json.dumps(x) + "\n").encode())
    return ctx.path(name)


def sections(text):
    """{name: [(key, value), ...]} of an INI text, [mlchaos] included."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            cur = line.strip("[]")
            out[cur] = []
        elif cur and " = " in line and not line.startswith(";"):
            k, v = line.split(" = ", 1)
            out[cur].append((k, v))
    return out


def test_log(ctx, args):
    mc = ctx.mlchaos
    mc("replay", expect=2)
    mc("replay", "x.jsonl", expect=2)  # no -o
    require("Exit status" in mc("replay", "--help", expect=0).stdout, "replay --help")
    require("usage: mlchaos replay" in mc("help", "replay", expect=0).stdout, "help replay")
    require("  replay " in mc("--help", expect=0).stdout, "mlchaos --help lists replay")
    mc("replay", "x.jsonl", "-o", ctx.path("r.ini"), "--log", "a\nb", expect=2)
    out = ctx.path("r.ini")
    mc("replay", ctx.path("missing.jsonl"), "-o", out, expect=2)

    eio = [["hook", "read"], ["action", "fail"], ["errno", "EIO, EINTR"], ["rate", "5%"],
           ["after", "2"], ["select", "call"], ["times", "50"]]
    slow = [["hook", "send"], ["action", "delay"], ["delay", "1ms"], ["jitter", "1ms"],
            ["rate", "10%"], ["shadow", "true"]]
    weird_key = "a b;c#\u00e9=\"'\\x"
    base = [b"not json at all\n", {"no": "event"},
            rules_line(10, [("eio", eio), ("slow", slow)]),
            fault(10, "eio", 0, 3, 0xabc), fault(10, "eio", 1, 7, 0xdef, errno="EINTR"),
            fault(10, "eio", 0, 9, 5, applied=False, note="halted"),
            fault(10, "slow", 2, 4, 1, key=weird_key, event="would_inject"),
            fault(10, "slow", 2, 5, 2, key=weird_key, event="would_inject"),
            fault(10, "ghost", 0, 1, 1)]
    # two processes: --pid needed, and the pids are listed
    log = write_log(ctx, "two.jsonl", base + [rules_line(11, [("eio", eio)]),
                                              fault(11, "eio", 0, 1, 1)])
    r = mc("replay", log, "-o", out, expect=2)
    require("--pid" in r.stderr and "10:" in r.stderr and "11:" in r.stderr,
            "several processes: %r" % r.stderr)
    mc("replay", log, "-o", out, "--pid", "12", expect=2)
    mc("replay", log, "-o", out, "--pid", "10", "--rule", "nope", expect=2)
    r = mc("replay", log, "-o", out, "--pid", "10", expect=0)
    require("two.jsonl:1: not JSON" in r.stderr and "two.jsonl:2: not an mlchaos event" in
            r.stderr and "two.jsonl:9: rule 'ghost' is not in the rule set" in r.stderr,
            "problems reported as LOG:LINE: %r" % r.stderr)
    require("1 faults decided but not applied" in r.stderr, "unapplied: %r" % r.stderr)
    text = open(out).read()
    s = sections(text)
    require(s["mlchaos"] == [("seed", "9"), ("log", "/var/log/x-%p.jsonl")],
            "[mlchaos]: %s" % s["mlchaos"])
    require(s["fault.eio"] == [("hook", "read"), ("action", "fail"), ("errno", "EIO, EINTR"),
                               ("select", "call"), ("times", "50"),
                               ("replay", "0:3:0000000000000abc 1:7:0000000000000def")],
            "[fault.eio]: %s" % s["fault.eio"])
    esc = "a\\x20b\\x3bc\\x23\\xc3\\xa9\\x3d\\x22\\x27\\x5cx"
    require(s["fault.slow"][-2:] == [("shadow", "true"), ("replay_key", esc)],
            "[fault.slow]: %s" % s["fault.slow"])
    require(re.search(r"^; 2 faults of pid 10, .*two.jsonl lines 4-5", text, re.M),
            "where the list came from:\n" + text)
    r = mc("replay", log, "-o", out, "--pid", "10", "--rule", "slow", "--log", "/tmp/l-%p",
           expect=0)
    s = sections(open(out).read())
    require(set(s) == {"mlchaos", "fault.slow"} and ("log", "/tmp/l-%p") in s["mlchaos"],
            "--rule slow --log: %s" % s)

    # a reload: the rule set in force at the first fault, and the faults after are left out
    log = write_log(ctx, "reload.jsonl", [
        rules_line(20, [("eio", eio)]), fault(20, "eio", 0, 1, 1),
        rules_line(20, [("eio", eio)], generation=1), fault(20, "eio", 0, 1, 2),
        b'{"time":"2030-01-01T00:00:02.000000Z","event":"fault","pid":20,"ru'])
    r = mc("replay", log, "-o", out, expect=0)
    require("reloaded its rules at" in r.stderr and "reload.jsonl:3" in r.stderr and
            "the 1 faults after it" in r.stderr, "reload: %r" % r.stderr)
    require("reload.jsonl:5: the last line has no newline" in r.stderr, "torn: %r" % r.stderr)
    require(sections(open(out).read())["fault.eio"][-1] == ("replay", "0:1:0000000000000001"),
            "reload replay: %s" % open(out).read())

    # what the log cannot tell: no rules line, no call number
    log = write_log(ctx, "norules.jsonl", [fault(30, "eio", 0, 1, 1)])
    r = mc("replay", log, "-o", out, expect=1)
    require("no \"rules\" line of pid 30" in r.stderr, "no rules line: %r" % r.stderr)
    old = fault(31, "eio", 0, 1, 1)
    del old["call"]
    log = write_log(ctx, "old.jsonl", [rules_line(31, [("eio", eio)]), old,
                                       fault(31, "eio", 0, 2, 2)])
    r = mc("replay", log, "-o", out, expect=1)
    require("old.jsonl:2: a fault without" in r.stderr, "no call number: %r" % r.stderr)
    log = write_log(ctx, "empty.jsonl", [rules_line(32, [("eio", eio)])])
    mc("replay", log, "-o", out, expect=1)
    # request_key = thread keys by thread id, different in every run: listed by call
    log = write_log(ctx, "tid.jsonl", [rules_line(33, [("eio", eio[:3])],
                                                  request_key="thread"),
                                       fault(33, "eio", 4, 8, 9, key="12345")])
    mc("replay", log, "-o", out, expect=0)
    require(sections(open(out).read())["fault.eio"][-1] == ("replay", "4:8:0000000000000009"),
            "request_key = thread: %s" % open(out).read())


def test_outputs(ctx, args):
    """-o onto what was planted at its path: refused at once (exit 2), one message naming the
    path and why, and the thing there left as it was; a file of ours is replaced, a new one
    created 0600 (the replay_key lists are the run's request keys)."""
    mc = ctx.mlchaos
    eio = [["hook", "read"], ["action", "fail"], ["errno", "EIO"], ["select", "call"]]
    log = write_log(ctx, "one.jsonl", [rules_line(40, [("eio", eio)]),
                                       fault(40, "eio", 0, 3, 0xabc)])
    before = b"; the user's own text\n"

    def planted(name, mode=0o600):
        path = ctx.path(name)
        with open(path, "wb") as f:
            f.write(before)
        os.chmod(path, mode)
        return path

    def refused(out, why, untouched):
        # a FIFO used to make this wait for a reader for ever: the timeout fails the test
        t0 = time.monotonic()
        r = mc("replay", log, "-o", out, expect=2, timeout=OUTPUT_BOUND_S)
        took = time.monotonic() - t0
        said = "mlchaos replay: %s: the output %s" % (out, why)
        require(said in r.stderr and "; nothing was written" in r.stderr
                and r.stderr.count("mlchaos replay:") == 1,
                "one message, %r, got %r" % (said, r.stderr))
        require(took < OUTPUT_BOUND_S, "refused in %.1f s" % took)
        with open(untouched, "rb") as f:
            require(f.read() == before, "%s left as it was" % untouched)

    fifo = ctx.path("fifo.ini")
    os.mkfifo(fifo, 0o600)
    r = mc("replay", log, "-o", fifo, expect=2, timeout=OUTPUT_BOUND_S)
    require("mlchaos replay: %s: the output is a FIFO, not a regular file" % fifo in r.stderr,
            "FIFO: %r" % r.stderr)
    require(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO left as it was")
    victim = planted("victim.ini")
    link = ctx.path("link.ini")
    os.symlink(victim, link)
    refused(link, "is a symbolic link, which is not followed", victim)
    loose = planted("loose.ini", 0o666)
    refused(loose, "is writable by group or others (mode 0666)", loose)
    if os.geteuid() == 0:
        other = planted("other.ini")
        nobody = pwd.getpwnam("nobody")
        os.chown(other, nobody.pw_uid, nobody.pw_gid)
        refused(other, "belongs to uid %d, not to uid 0" % nobody.pw_uid, other)
    else:
        note("not root: the output owned by another user is not tried")

    mine = planted("mine.ini")
    mc("replay", log, "-o", mine, expect=0)
    text = open(mine).read()
    require("replay = 0:3:0000000000000abc" in text and "own text" not in text,
            "a file of ours is replaced whole: %r" % text)
    new = ctx.path("new.ini")
    old_umask = os.umask(0)
    try:
        mc("replay", log, "-o", new, expect=0)
    finally:
        os.umask(old_umask)
    require(os.stat(new).st_mode & 0o777 == 0o600, "created 0600 whatever the umask: %o"
            % (os.stat(new).st_mode & 0o777))


TESTS = {"server": test_server, "log": test_log, "outputs": test_outputs}


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--lib", "--mlchaos", "--target", "--wd-server", "--server", "--load", "--gen"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--preload-before")
    ap.add_argument("test", choices=sorted(TESTS))
    args = ap.parse_args()
    ctx = observe.Ctx(args)
    return run_case("replay-" + args.test, lambda: TESTS[args.test](ctx, args), ctx.cleanup)


if __name__ == "__main__":
    fail_on_sigterm()
    sys.exit(main())
