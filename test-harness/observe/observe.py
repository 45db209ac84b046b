#!/usr/bin/python3
"""Integration tests of the event log, the live counters and the controls.

observe.py --lib LIB --mlchaos MLCHAOS --target OBS_TARGET --wd-server WD_SERVER
           [--preload-before SO] TEST

Each TEST runs real processes under the real library (obs_target, or wd_server.py for the
watchdog), reads their segments with `mlchaos stats --json` while they are alive (they wait
for their stdin to close before exiting), and compares the counters, the event log and what
the process itself saw. Exit 0 pass, 1 fail, 2 usage, 77 skip. Every process started here is
killed by its pid before the test returns, whatever happens.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import Failed, fail_on_sigterm, note, require, run_case, skip  # noqa: E402

START_DEADLINE_S = 20
CMD_TIMEOUT_S = 30


class Ctx:
    """What every test needs: paths, a temporary directory, the processes to kill."""

    def __init__(self, args):
        self.lib = os.path.abspath(args.lib)
        self.mlchaos_exe = os.path.abspath(args.mlchaos)
        self.target_exe = os.path.abspath(args.target)
        self.wd_server = os.path.abspath(args.wd_server)
        self.preload_before = args.preload_before
        self.tmp = tempfile.mkdtemp(prefix="mlchaos-observe-")
        self.procs = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def data_file(self, name, size=4096):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(bytes(i % 251 for i in range(size)))
        return p

    def preload_env(self, config):
        env = dict(os.environ)
        pre = [self.preload_before] if self.preload_before else []
        env["LD_PRELOAD"] = ":".join(pre + [self.lib])
        env["MLCHAOS_CONFIG"] = config
        return env

    def start(self, argv, config):
        p = subprocess.Popen(argv, env=self.preload_env(config), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=open(self.path("target.err"), "ab"))
        self.procs.append(p)
        return Proc(p)

    def target(self, config, *args):
        return self.start([self.target_exe] + [str(a) for a in args], config)

    def spawn_plain(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def mlchaos(self, *args, expect=None, timeout=CMD_TIMEOUT_S):
        r = subprocess.run([self.mlchaos_exe] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout)
        if expect is not None and r.returncode != expect:
            raise Failed("mlchaos %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
                         % (" ".join(map(str, args)), r.returncode, expect, r.stdout,
                            r.stderr))
        return r

    def stats(self, pid):
        r = self.mlchaos("stats", "--json", pid, expect=0)
        doc = json.loads(r.stdout)
        require(len(doc["processes"]) == 1 and doc["processes"][0]["pid"] == pid,
                "stats --json %d: %s" % (pid, r.stdout))
        return doc["processes"][0]

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class Proc:
    """A process under the library, read line by line with deadlines."""

    def __init__(self, popen):
        self.p = popen
        self.pid = popen.pid
        self.buf = b""

    def line(self, deadline_s=START_DEADLINE_S):
        end = time.monotonic() + deadline_s
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            require(left > 0, "pid %d: no output line within %g s" % (self.pid, deadline_s))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                require(chunk, "pid %d exited early (status %s)" % (self.pid, self.p.poll()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect_ready(self):
        line = self.line()
        require(line == "ready", "pid %d said %r, expected 'ready'" % (self.pid, line))

    def done(self, deadline_s=START_DEADLINE_S):
        line = self.line(deadline_s)
        require(line.startswith("done "), "pid %d said %r, expected 'done {...}'"
                % (self.pid, line))
        return json.loads(line[5:])

    def finish(self, deadline_s=START_DEADLINE_S):
        """Closes stdin (the target then ends) and waits for its exit status 0."""
        self.p.stdin.close()
        status = self.p.wait(timeout=deadline_s)
        require(status == 0, "pid %d exited with %d" % (self.pid, status))


def split_log(data, path, killed=False):
    """The whole lines of a log's bytes, and its torn last line (b"" when there is none).

    Every line is written with one write(2) on an O_APPEND file, so lines never interleave;
    but a write(2) to a regular file is not atomic against SIGKILL: the kernel copies it page
    by page and stops between two pages when a fatal signal is pending. A process killed while
    logging (killed=True) may therefore leave one torn last line, never more, and never a torn
    line before a whole one; any other process's log ends with a newline."""
    lines = data.split(b"\n")
    torn = lines.pop()  # what follows the last newline
    require(not torn or killed, "%s: last line has no newline (%d bytes: %r), and the process "
            "was not killed" % (path, len(torn), torn[:120]))
    return lines, torn


def read_log(path, allow_missing=False, rule_sets=False, killed=False):
    """Every whole line of the log as a dict; each must parse. The "rules" lines (the rule set
    in force, at start and at each reload) are left out unless rule_sets is true. killed: the
    process was SIGKILLed, so its last line may be torn (see split_log): it is left out."""
    if allow_missing and not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    events = []
    for i, raw in enumerate(split_log(data, path, killed)[0], 1):
        try:
            e = json.loads(raw)
        except ValueError as e:
            raise Failed("%s:%d: not JSON (%s): %r" % (path, i, e, raw[:200]))
        if rule_sets or e.get("event") != "rules":
            events.append(e)
    return events


def log_line_count(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def rules_by_name(proc):
    return {r["name"]: r for r in proc["rules"]}


def total(proc, field):
    return sum(r[field] for r in proc["rules"])


def wait_until(what, fn, deadline_s=30, interval_s=0.005):
    """Polls fn until it returns a true value: the deadline bounds a wait for something that
    must happen, never how fast (a loaded machine may take long)."""
    end = time.monotonic() + deadline_s
    while True:
        v = fn()
        if v:
            return v
        require(time.monotonic() < end, "timed out after %g s waiting for %s" % (deadline_s, what))
        time.sleep(interval_s)


def config(ctx, name, mlchaos_keys, rules):
    """Writes an INI file: [mlchaos] keys, then [fault.NAME] sections."""
    lines = ["[mlchaos]"] + ["%s = %s" % kv for kv in mlchaos_keys]
    for rname, keys in rules:
        lines += ["", "[fault.%s]" % rname] + ["%s = %s" % kv for kv in keys]
    return ctx.write(name, "\n".join(lines) + "\n")


def by_rule(events, **match):
    out = {}
    for e in events:
        if all(e.get(k) == v for k, v in match.items()):
            out[e["rule"]] = out.get(e["rule"], 0) + 1
    return out


# ---- tests ---------------------------------------------------------------------------------

def test_usage(ctx):
    """Each command has --help (exit 0) and refuses bad usage with exit 2."""
    for cmd in ("stats", "top", "halt", "resume", "reload", "report", "metrics"):
        r = ctx.mlchaos(cmd, "--help", expect=0)
        require(r.stdout.startswith("usage: mlchaos " + cmd), "%s --help: %r" % (cmd, r.stdout))
        ctx.mlchaos(cmd, "--no-such-option", expect=2)
    r = ctx.mlchaos("resume", "--help", expect=0)
    require("--watchdog" in r.stdout, "resume --help does not mention --watchdog")
    ctx.mlchaos("stats", "not-a-pid", expect=2)
    ctx.mlchaos("stats", "--all", "1", expect=2)
    ctx.mlchaos("resume", expect=2)  # halt and resume must name their processes
    ctx.mlchaos("halt", expect=2)
    ctx.mlchaos("reload", expect=2)
    ctx.mlchaos("report", expect=2)
    ctx.mlchaos("metrics", "--max-requests", "1", expect=2)
    ctx.mlchaos("metrics", "--listen", "127.0.0.1:notaport", expect=2)
    # a pid with no segment: 1 for stats/halt/resume, 2 for reload
    dead = subprocess.Popen(["true"])
    dead.wait()
    r = ctx.mlchaos("stats", dead.pid, expect=1)
    require("no segment" in r.stderr, "stats of a dead pid: %r" % r.stderr)
    ctx.mlchaos("halt", dead.pid, expect=1)
    ctx.mlchaos("resume", dead.pid, expect=1)
    ctx.mlchaos("reload", dead.pid, expect=2)
    log = ctx.path("none.jsonl")
    r = ctx.mlchaos("report", log, expect=2)
    require("cannot read" in r.stderr, "report of a missing file: %r" % r.stderr)


def loops_config(ctx, data, log, extra=(), read_rate="50%", shadow=None):
    keys = [("seed", "11"), ("log", log)] + list(extra)
    if shadow:
        keys.append(("shadow", "true"))
    return config(ctx, "loops.ini", keys, [
        ("read-eio", [("hook", "read"), ("action", "fail"), ("errno", "EIO"),
                      ("path", "*/data.bin"), ("rate", read_rate), ("select", "call")]),
        ("malloc-null", [("hook", "malloc"), ("action", "fail"), ("min_size", "777"),
                         ("max_size", "777"), ("rate", "30%"), ("select", "call")]),
        ("slow-sleep", [("hook", "sleep"), ("action", "delay"), ("delay", "2us"),
                        ("rate", "100%"), ("select", "call")]),
    ])


def test_log_count(ctx):
    """The log of a run has exactly as many lines as the counters say were injected, every line
    parses, and the counts agree with what the process itself saw."""
    data = ctx.data_file("data.bin")
    log = ctx.path("loops-%p.jsonl")
    cfg = loops_config(ctx, data, log)
    t = ctx.target(cfg, "loops", 4, 500, data)
    seen = t.done()
    st = ctx.stats(t.pid)
    events = read_log(log.replace("%p", str(t.pid)))
    all_lines = read_log(log.replace("%p", str(t.pid)), rule_sets=True)
    rules = rules_by_name(st)
    lines = by_rule(events, event="fault", applied=True)
    note("pid %d: %d log lines; applied %s; process saw %s"
         % (t.pid, len(events), {n: r["applied"] for n, r in rules.items()}, seen))
    require(len(events) == total(st, "injected") == total(st, "applied") == st["faults_injected"],
            "log lines %d, injected %d, applied %d, faults_injected %d"
            % (len(events), total(st, "injected"), total(st, "applied"), st["faults_injected"]))
    require(st["events_logged"] == len(all_lines) and st["events_dropped"] == 0,
            "events logged %d dropped %d, log has %d" % (st["events_logged"], st["events_dropped"],
                                                        len(all_lines)))
    require([e["event"] for e in all_lines].count("rules") == 1 and
            all_lines[0]["event"] == "rules", "one rules line, the first")
    for name, r in rules.items():
        require(lines.get(name, 0) == r["applied"],
                "rule %s: %d log lines, applied %d" % (name, lines.get(name, 0), r["applied"]))
        # obs_target never accepts a connection nor reads a request: all of it is loading
        require(r["by_phase"]["load"]["applied"] == r["applied"] and
                r["by_phase"]["serve"]["applied"] == 0, "rule %s: %s" % (name, r))
    require(rules["read-eio"]["applied"] == seen["read_fail"],
            "read-eio applied %d, process saw %d failed reads" % (rules["read-eio"]["applied"],
                                                                  seen["read_fail"]))
    require(rules["malloc-null"]["applied"] == seen["malloc_fail"],
            "malloc-null applied %d, process saw %d NULLs" % (rules["malloc-null"]["applied"],
                                                           seen["malloc_fail"]))
    require(rules["slow-sleep"]["applied"] == seen["sleeps"] == 2000,
            "slow-sleep applied %d, process slept %d times" % (rules["slow-sleep"]["applied"],
                                                               seen["sleeps"]))
    require(0 < seen["read_fail"] < 2000, "rate 50%% gave %s" % seen)
    # under ASan its runtime, preloaded first, serves malloc: the shim never sees those calls
    require(ctx.preload_before or 0 < seen["malloc_fail"] < 2000, "rate 30%% gave %s" % seen)
    for e in events:
        for k in ("time", "mono_ns", "pid", "tid", "event", "rule", "hook", "fn", "action",
                  "target", "key", "phase", "shadow", "applied"):
            require(k in e, "event without %r: %s" % (k, e))
        require(e["pid"] == t.pid, "event of pid %s in pid %d's log" % (e["pid"], t.pid))
        require(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", e["time"]),
                "time %r is not RFC 3339 with microseconds" % e["time"])
    for e in events:
        if e["rule"] == "read-eio":
            require(e["errno"] == "EIO" and e["fn"] == "read", "read-eio event: %s" % e)
        if e["rule"] == "slow-sleep":
            require(e["delay_ns"] == 2000 and e["slept_ns"] >= 2000, "slow-sleep event: %s" % e)
    r = ctx.mlchaos("stats", t.pid, expect=0)
    for name in rules:
        require(name in r.stdout, "stats text lacks rule %s:\n%s" % (name, r.stdout))
    require("state    running" in r.stdout, "stats text: %s" % r.stdout)
    t.finish()
    require(not os.path.exists("/dev/shm/mlchaos.%d" % t.pid), "segment left after a clean exit")


def test_sigkill(ctx):
    """A process SIGKILLed while logging fast from 8 threads leaves a log whose lines are all
    whole and parse but, at most, the last (SIGKILL can cut a write(2) to a file between two
    pages: see split_log); `mlchaos report` skips that torn line and says so, and counts every
    whole one; `mlchaos stats` then removes the stale segment."""
    a = ctx.data_file("data.bin")
    log = ctx.path("kill.jsonl")
    cfg = config(ctx, "kill.ini", [("log", log)], [
        ("read-eio", [("hook", "read"), ("action", "fail"), ("path", "*/data.bin"),
                      ("rate", "100%"), ("select", "call")])])
    t = ctx.target(cfg, "busy", 8, 5, a)
    t.expect_ready()
    wait_until("5000 log lines", lambda: log_line_count(log) >= 5000, deadline_s=60)
    os.kill(t.pid, signal.SIGKILL)
    t.p.wait(timeout=10)
    seg = "/dev/shm/mlchaos.%d" % t.pid
    require(os.path.exists(seg), "a SIGKILLed process cannot remove its segment: %s is missing"
            % seg)
    with open(log, "rb") as f:
        torn = split_log(f.read(), log, killed=True)[1]
    events = read_log(log, killed=True)
    note("%d whole lines, all parse; the last line %s" % (
        len(events), "torn after %d bytes" % len(torn) if torn else "whole"))
    require(len(events) >= 5000, "only %d lines" % len(events))
    doc = json.loads(ctx.mlchaos("report", "--json", log, expect=0).stdout)
    li = doc["logs"][0]
    rules = {x["rule"]: x["injected"] for x in doc["rules"]}
    require(li["truncated"] == bool(torn) and li["non_json"] == 0 and
            li["events"] == len(events) + 1,  # + the rules line
            "report of the killed log: %s, expected truncated %s and %d events"
            % (li, bool(torn), len(events) + 1))
    require(rules == {"read-eio": len(events)}, "report counts %s, the log %d whole lines"
            % (rules, len(events)))
    r = ctx.mlchaos("stats", "--json", expect=0)
    doc = json.loads(r.stdout)
    require(all(p["pid"] != t.pid for p in doc["processes"]), "a dead process listed")
    require(not os.path.exists(seg), "stats left the stale segment %s" % seg)
    # the one stats run that found it says so (another test's stats may have been first)
    note("stats: %s" % r.stderr.strip())


def copy_segment(src_pid, dst_pid):
    """A copy of a live segment under another pid's name, its pid field patched."""
    with open("/dev/shm/mlchaos.%d" % src_pid, "rb") as f:
        data = bytearray(f.read())
    data[16:20] = dst_pid.to_bytes(4, sys.byteorder, signed=True)
    dst = "/dev/shm/mlchaos.%d" % dst_pid
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.write(fd, bytes(data))
    os.close(fd)
    return dst


def test_stale(ctx):
    """Stale segments (dead pid; live pid that does not map the file) are removed, a live one
    is kept, another user's is refused and left alone."""
    a = ctx.data_file("data.bin")
    cfg = config(ctx, "stale.ini", [], [
        ("read-eio", [("hook", "read"), ("action", "fail"), ("path", "*/data.bin"),
                      ("rate", "100%"), ("select", "call")])])
    t = ctx.target(cfg, "loops", 1, 10, a)
    t.done()
    dead = subprocess.Popen(["true"])
    dead.wait()
    sleeper = ctx.spawn_plain(["sleep", "60"])  # alive, does not map anything of ours
    seg_dead = copy_segment(t.pid, dead.pid)
    r = ctx.mlchaos("stats", dead.pid, expect=1)
    require("stale" in r.stderr and "no such process" in r.stderr and "removed" in r.stderr,
            "stats of a dead pid's segment: %r" % r.stderr)
    require(not os.path.exists(seg_dead), "%s not removed" % seg_dead)
    seg_alive = copy_segment(t.pid, sleeper.pid)
    r = ctx.mlchaos("stats", sleeper.pid, expect=1)
    require("stale" in r.stderr and "does not map it" in r.stderr and "removed" in r.stderr,
            "stats of a live pid that does not map its segment: %r" % r.stderr)
    require(not os.path.exists(seg_alive), "%s not removed" % seg_alive)
    # --all cleans them too (which stats run counts it may be another test's: no count here)
    made = [copy_segment(t.pid, dead.pid), copy_segment(t.pid, sleeper.pid)]
    r = ctx.mlchaos("stats", "--json", "--all", expect=0)
    pids = [p["pid"] for p in json.loads(r.stdout)["processes"]]
    require(t.pid in pids and sleeper.pid not in pids and dead.pid not in pids,
            "listed %s" % pids)
    for m in made:
        require(not os.path.exists(m), "%s not removed" % m)
    require(os.path.exists("/dev/shm/mlchaos.%d" % t.pid), "the live segment was removed")
    if os.geteuid() == 0:
        other = copy_segment(t.pid, sleeper.pid)
        try:
            os.chown(other, 65534, 65534)
            r = ctx.mlchaos("stats", sleeper.pid, expect=1)
            require("belongs to uid 65534" in r.stderr, "foreign segment: %r" % r.stderr)
            r = ctx.mlchaos("halt", sleeper.pid, expect=1)
            r = ctx.mlchaos("stats", "--all", expect=0)
            require("other users" in r.stderr, "stats --all: %r" % r.stderr)
            require(os.path.exists(other), "another user's segment was removed")
        finally:
            os.unlink(other)
    else:
        note("not root: the other-user case is not run")
    t.finish()


def busy_config(ctx, name, log, extra=(), rules=None):
    rules = rules or [
        ("read-eio", [("hook", "read"), ("action", "fail"), ("path", "*/b.dat"),
                      ("rate", "100%"), ("select", "call")]),
        ("read-delay", [("hook", "read"), ("action", "delay"), ("delay", "1ns"),
                         ("path", "*/a.dat"), ("rate", "100%"), ("select", "call")]),
    ]
    return config(ctx, name, [("log", log)] + list(extra), rules)


def applied_lines(path):
    n = 0
    with open(path, "rb") as f:
        for raw in f:
            if b'"applied":true' in raw:
                n += 1
    return n


def test_halt(ctx):
    """8 busy threads; `mlchaos halt` returns; from then on nothing more is applied or logged as
    applied; resume makes injection move again."""
    a, b = ctx.data_file("a.dat"), ctx.data_file("b.dat")
    log = ctx.path("halt.jsonl")
    cfg = busy_config(ctx, "halt.ini", log)
    t = ctx.target(cfg, "busy", 8, 20, a, b)
    t.expect_ready()
    wait_until("2000 applied faults", lambda: total(ctx.stats(t.pid), "applied") >= 2000)
    t0 = time.monotonic()
    r = ctx.mlchaos("halt", t.pid, expect=0)
    halt_s = time.monotonic() - t0
    s1 = ctx.stats(t.pid)
    l1, al1 = log_line_count(log), applied_lines(log)
    time.sleep(0.2)
    s2 = ctx.stats(t.pid)
    l2, al2 = log_line_count(log), applied_lines(log)
    note("halt took %.1f ms; applied %d -> %d, log %d -> %d lines (%d -> %d applied), "
         "suppressed %d -> %d" % (halt_s * 1000, total(s1, "applied"), total(s2, "applied"),
                                  l1, l2, al1, al2, s1["faults_suppressed"],
                                  s2["faults_suppressed"]))
    require("halted" in r.stdout, "halt said %r" % r.stdout)
    require(s1["state"] == "halted" and s1["halted_by"] == ["command"], "state %s %s"
            % (s1["state"], s1["halted_by"]))
    require(s1["inflight"] == 0, "%d faults in flight after halt returned" % s1["inflight"])
    require(total(s1, "applied") == total(s2, "applied"), "applied moved after halt")
    require(s1["faults_injected"] == s2["faults_injected"], "faults_injected moved after halt")
    require(al1 == al2, "%d applied log lines appeared after halt returned" % (al2 - al1))
    # A thread that had decided just before the halt finds it when applying: the decision is
    # dropped and logged as not applied; at most one per thread.
    require(l2 - l1 <= 8, "%d log lines after halt returned (8 threads)" % (l2 - l1))
    require(total(s2, "injected") - total(s1, "injected") <= 8, "decisions kept coming: %d -> %d"
            % (total(s1, "injected"), total(s2, "injected")))
    late = read_log(log, rule_sets=True)[l1:]  # l1 counted every line, the rules line too
    require(all(not e["applied"] and e.get("note") == "halted" for e in late),
            "lines after the halt: %s" % late)
    ctx.mlchaos("resume", t.pid, expect=0)
    before = total(s2, "applied")
    wait_until("applied to move after resume",
               lambda: total(ctx.stats(t.pid), "applied") > before + 100)
    require(ctx.stats(t.pid)["state"] == "running", "not running after resume")
    require(applied_lines(log) > al2, "no applied lines after resume")
    # (not `halt --all` here: it would halt the processes of tests running beside this one)
    t.finish()


HALT_FILE_PERIOD_MS = 100  # the library looks at the halt file at most this often, by its clock
# A check under way when the file appears may have read the clock and not yet the file: the
# thread running it can be kept off a busy machine's CPU for a while. This much library time
# more is allowed for it; what a halt costs the test's own polling is not counted at all.
HALT_FILE_CHECK_SLACK_MS = 300


def test_halt_file(ctx):
    """While halt_file exists nothing is injected: creating it stops injection within the
    library's check period (100 ms of its clock), removing it resumes.

    Measured on the library's own clock, the one the test reads too (CLOCK_MONOTONIC): each
    thread's log lines are in the order of its calls, so a line's decision came after the
    mono_ns of the same thread's line before it. No fault may be applied on a decision that
    came more than the check period (and a check's slack, above) after the file appeared,
    however slowly the machine ran the threads or `mlchaos stats`."""
    a, b = ctx.data_file("a.dat"), ctx.data_file("b.dat")
    log = ctx.path("hf.jsonl")
    hf = ctx.path("halt-now")
    cfg = busy_config(ctx, "hf.ini", log, extra=[("halt_file", hf)])
    t = ctx.target(cfg, "busy", 4, 50, a, b)
    t.expect_ready()
    wait_until("applied faults", lambda: total(ctx.stats(t.pid), "applied") >= 200)
    open(hf, "w").close()
    created_ns = time.monotonic_ns()  # the file exists from here on
    wait_until("halt_file state", lambda: "halt_file" in ctx.stats(t.pid)["halted_by"])
    # A fault that passed the halt check before the bit was set ends, and is counted and
    # logged, before it leaves the in-flight count: once that is 0, nothing can move.
    wait_until("faults in flight to end", lambda: ctx.stats(t.pid)["inflight"] == 0)
    s1 = ctx.stats(t.pid)
    al1 = applied_lines(log)
    time.sleep(0.2)
    s2 = ctx.stats(t.pid)
    al2 = applied_lines(log)
    require(total(s1, "applied") == total(s2, "applied") and al1 == al2,
            "injection went on with the halt file: applied %d -> %d, lines %d -> %d"
            % (total(s1, "applied"), total(s2, "applied"), al1, al2))
    os.unlink(hf)
    removed_ns = time.monotonic_ns()
    before = total(s2, "applied")
    wait_until("injection to resume", lambda: total(ctx.stats(t.pid), "applied") > before)
    t.finish()

    events = read_log(log)
    last_by_tid, late, stop_ms = {}, [], None
    resumed_ms = None
    for e in events:
        prev = last_by_tid.get(e["tid"])
        last_by_tid[e["tid"]] = e["mono_ns"]
        if not e["applied"] or prev is None:
            continue
        if e["mono_ns"] >= removed_ns:  # after the file was removed: resumed
            if resumed_ms is None or e["mono_ns"] < removed_ns + resumed_ms * 1e6:
                resumed_ms = (e["mono_ns"] - removed_ns) / 1e6
            continue
        after_ms = (prev - created_ns) / 1e6  # the decision came after this
        if after_ms > HALT_FILE_PERIOD_MS + HALT_FILE_CHECK_SLACK_MS:
            late.append(e)
        if e["mono_ns"] >= created_ns:
            stop_ms = max(stop_ms or 0, (e["mono_ns"] - created_ns) / 1e6)
    note("halt file: the last fault applied %s ms after it appeared (its line's time); "
         "injection resumed %.0f ms after its removal (library clock)"
         % ("%.0f" % stop_ms if stop_ms is not None else "no", resumed_ms or -1))
    require(not late, "%d faults applied on decisions made more than %d ms after the halt file "
            "appeared (checked every %d ms), the first %s"
            % (len(late), HALT_FILE_PERIOD_MS + HALT_FILE_CHECK_SLACK_MS, HALT_FILE_PERIOD_MS,
               late[:1]))
    require(resumed_ms is not None, "no fault applied in the log after the halt file's removal")


def test_max_faults(ctx):
    """max_faults = N: exactly N faults, seen by the process, counted and logged."""
    data = ctx.data_file("data.bin")
    log = ctx.path("max.jsonl")
    cfg = config(ctx, "max.ini", [("log", log), ("max_faults", "37")], [
        ("read-eio", [("hook", "read"), ("action", "fail"), ("path", "*/data.bin"),
                      ("rate", "100%"), ("select", "call")])])
    t = ctx.target(cfg, "loops", 4, 200, data)
    seen = t.done()
    st = ctx.stats(t.pid)
    logged = read_log(log)
    events = [e for e in logged if e["event"] == "fault"]
    halts = [e for e in logged if e["event"] == "halt"]
    note("max_faults 37: process saw %d failed reads of %d, applied %d, log %d"
         % (seen["read_fail"], seen["reads"], total(st, "applied"), len(events)))
    require(len(halts) == 1 and halts[0]["reason"] == "max_faults" and halts[0]["limit"] == 37
            and len(logged) == 38, "one halt line, after the faults: %s" % halts)
    require(seen["read_fail"] == 37 and seen["reads"] == 800, "process saw %s" % seen)
    require(total(st, "applied") == 37 and len(events) == 37 and st["faults_injected"] == 37,
            "applied %d, log %d, expected 37" % (total(st, "applied"), len(events)))
    require(st["halted_by"] == ["max_faults"], "state %s" % st["halted_by"])
    r = ctx.mlchaos("stats", t.pid, expect=0)
    require("halted by max_faults" in r.stdout, "stats text: %s" % r.stdout)
    t.finish()


def test_reload(ctx):
    """A reload adds a rule that then acts; an invalid config is refused by the command, and
    when it reaches the process anyway, rejected there with its FILE:LINE message, the old
    rules still acting."""
    a, b = ctx.data_file("a.dat"), ctx.data_file("b.dat")
    log = ctx.path("reload.jsonl")
    rule_a = ("fail-a", [("hook", "read"), ("action", "fail"), ("path", "*/a.dat"),
                         ("rate", "100%"), ("select", "call")])
    rule_b = ("fail-b", [("hook", "read"), ("action", "fail"), ("errno", "EAGAIN"),
                         ("path", "*/b.dat"), ("rate", "100%"), ("select", "call")])
    cfg = config(ctx, "reload.ini", [("log", log)], [rule_a])
    t = ctx.target(cfg, "busy", 2, 200, a, b)
    t.expect_ready()
    s0 = ctx.stats(t.pid)
    wait_until("fail-a to act", lambda: rules_by_name(ctx.stats(t.pid))["fail-a"]["applied"] > 0)
    config(ctx, "reload.ini", [("log", log)], [rule_a, rule_b])
    r = ctx.mlchaos("reload", t.pid, expect=0)
    require("reloaded" in r.stdout, "reload said %r" % r.stdout)
    s1 = ctx.stats(t.pid)
    require([x["name"] for x in s1["rules"]] == ["fail-a", "fail-b"], "rules %s" % s1["rules"])
    require(s1["config_hash"] != s0["config_hash"], "config hash unchanged by the reload")
    wait_until("fail-b to act", lambda: rules_by_name(ctx.stats(t.pid))["fail-b"]["applied"] > 0)
    require(by_rule(read_log(log)).get("fail-b", 0) > 0, "no fail-b line in the log")
    # invalid: the command refuses it without asking the process
    good = ctx.write("good.ini", open(cfg).read())
    with open(cfg, "a") as f:
        f.write("no_such_key = 1\n")
    bad_line = open(cfg).read().count("\n")
    r = ctx.mlchaos("reload", t.pid, expect=1)
    require("%s:%d:" % (cfg, bad_line) in r.stderr, "refusal lacks FILE:LINE: %r" % r.stderr)
    require(ctx.stats(t.pid)["reload"]["requested"] == s1["reload"]["requested"],
            "an invalid config was sent to the process")
    # the process validates too: -c names a valid file, the process reads its own invalid one
    r = ctx.mlchaos("reload", "-c", good, t.pid, expect=1)
    require("%s:%d:" % (cfg, bad_line) in r.stderr and "rejected" in r.stderr,
            "the process's rejection: %r" % r.stderr)
    s2 = ctx.stats(t.pid)
    require([x["name"] for x in s2["rules"]] == ["fail-a", "fail-b"], "rules %s" % s2["rules"])
    require(s2["config_hash"] == s1["config_hash"], "the rejected config's hash was taken")
    r2 = rules_by_name(s2)
    wait_until("old rules to keep acting", lambda: all(
        rules_by_name(ctx.stats(t.pid))[n]["applied"] > r2[n]["applied"] + 10
        for n in ("fail-a", "fail-b")))
    # a rate change takes effect: fail-b at 0% stops. (What the old rule set still does around
    # the swap is test_reload_swap's business.)
    config(ctx, "reload.ini", [("log", log)],
           [rule_a, (rule_b[0], [kv for kv in rule_b[1] if kv[0] != "rate"] + [("rate", "0%")])])
    ctx.mlchaos("reload", t.pid, expect=0)
    time.sleep(0.05)
    s3 = ctx.stats(t.pid)
    time.sleep(0.2)
    s4 = ctx.stats(t.pid)
    b3, b4 = rules_by_name(s3)["fail-b"], rules_by_name(s4)["fail-b"]
    note("fail-b reloaded at 0%%: applied %d after 50 ms, %d after 250 ms"
         % (b3["applied"], b4["applied"]))
    require(b4["applied"] == b3["applied"], "fail-b at 0%% still applies: %d, then %d"
            % (b3["applied"], b4["applied"]))
    require(rules_by_name(s4)["fail-a"]["applied"] > rules_by_name(s3)["fail-a"]["applied"],
            "fail-a stopped after the rate change")
    t.finish()


WAITS_DELAY_S = 5


def test_waits(ctx):
    """The timeouts: halt while long delays are being applied says how many are in flight
    (exit 1) and still halts; reload of a process that makes no hooked call says the process
    has not reached its safe point (exit 2).

    Both threads start a WAITS_DELAY_S delay at once and, until the halt, a new one as soon as
    one ends. The halt's 0.2 s wait ends before the first delays do unless the machine takes
    nearly WAITS_DELAY_S to start the process and run the commands; if a delay ended within
    that wait, its thread does not start another: 1 or 2 are still under way."""
    a, b = ctx.data_file("a.dat"), ctx.data_file("b.dat")
    cfg = config(ctx, "slow.ini", [], [
        ("slow", [("hook", "read"), ("action", "delay"), ("delay", "%ds" % WAITS_DELAY_S),
                  ("path", "*/b.dat"), ("rate", "100%"), ("select", "call")])])
    t = ctx.target(cfg, "busy", 2, 0, a, b)
    t.expect_ready()
    wait_until("both threads in a delay", lambda: ctx.stats(t.pid)["inflight"] == 2)
    r = ctx.mlchaos("halt", "--timeout", "0.2", t.pid, expect=1)
    m = re.search(r"(\d+) fault\(s\) still being applied", r.stdout)
    require(m and m.group(1) in ("1", "2"), "halt said %r" % r.stdout)
    require(ctx.stats(t.pid)["halted_by"] == ["command"], "not halted")
    # the delays end meanwhile
    r = ctx.mlchaos("halt", "--timeout", str(WAITS_DELAY_S * 3), t.pid, expect=0)
    s1 = ctx.stats(t.pid)
    require(s1["inflight"] == 0, "in flight after halt: %d" % s1["inflight"])
    t.finish()
    idle = ctx.target(cfg, "loops", 1, 0, a)  # no round: it waits in read(0), unhooked
    idle.done()
    r = ctx.mlchaos("reload", "--timeout", "0.2", idle.pid, expect=2)
    require("safe point" in r.stderr and "has not reloaded" in r.stderr, "reload said %r"
            % r.stderr)
    idle.finish()


def test_reload_swap(ctx):
    """After a reload, a rule's counters count that rule's decisions only: a rule reloaded at
    rate 0% decides nothing, so it must show 0 selected, injected and applied.

    8 threads spend their time in a 20 ms delay of the old rule when the reload comes. Fails
    with the library as it is (shim/fault.c, reload() and mc_rec_rules_changed()): counters
    are zeroed at the swap, then the faults the old rule set had under way (and those decided
    with it between the zeroing and the publication of the new set) are counted on the new
    rule with the same id."""
    a, b = ctx.data_file("a.dat"), ctx.data_file("b.dat")
    rule = [("hook", "read"), ("action", "delay"), ("delay", "20ms"), ("path", "*/b.dat"),
            ("select", "call")]
    cfg = config(ctx, "swap.ini", [], [("flip", rule + [("rate", "100%")])])
    t = ctx.target(cfg, "busy", 8, 0, a, b)
    t.expect_ready()
    late = []
    for i in range(5):
        config(ctx, "swap.ini", [], [("flip", rule + [("rate", "100%")])])
        ctx.mlchaos("reload", t.pid, expect=0)
        wait_until("flip to act", lambda: rules_by_name(ctx.stats(t.pid))["flip"]["applied"] > 8)
        config(ctx, "swap.ini", [], [("flip", rule + [("rate", "0%")])])
        ctx.mlchaos("reload", t.pid, expect=0)
        time.sleep(0.1)  # every delay under way has ended
        f = rules_by_name(ctx.stats(t.pid))["flip"]
        if f["selected"] or f["injected"] or f["applied"]:
            late.append({k: f[k] for k in ("selected", "injected", "applied")})
    note("rule reloaded at 0%%: counts after the reload in %d of 5 rounds: %s"
         % (len(late), late))
    require(not late, "a rule reloaded at rate 0%% showed decisions of the old rule set in %d of 5 "
            "rounds: %s" % (len(late), late))
    t.finish()


def test_shadow(ctx):
    """shadow = true: would_inject counted and logged, nothing injected."""
    data = ctx.data_file("data.bin")
    log = ctx.path("shadow.jsonl")
    cfg = loops_config(ctx, data, log, read_rate="100%", shadow=True)
    t = ctx.target(cfg, "loops", 2, 300, data)
    seen = t.done()
    st = ctx.stats(t.pid)
    events = read_log(log)
    rules = rules_by_name(st)
    require(seen["read_fail"] == 0 and seen["malloc_fail"] == 0, "the process saw faults: %s"
            % seen)
    require(total(st, "applied") == 0 and st["faults_injected"] == 0, "applied in shadow mode")
    require(rules["read-eio"]["would_inject"] == 600, "read-eio would_inject %d, expected 600"
            % rules["read-eio"]["would_inject"])
    require(rules["slow-sleep"]["would_inject"] == 600, "slow-sleep would_inject %d"
            % rules["slow-sleep"]["would_inject"])
    require(all(r["shadow"] for r in st["rules"]), "rules not marked shadow")
    require(len(events) == total(st, "would_inject"), "log %d lines, would_inject %d"
            % (len(events), total(st, "would_inject")))
    require(all(e["event"] == "would_inject" and e["shadow"] and not e["applied"] for e in events),
            "a non-shadow line in the log")
    t.finish()


class Server:
    def __init__(self, ctx, cfg, data):
        self.proc = ctx.start(["/usr/bin/python3", ctx.wd_server, data], cfg)
        words = self.proc.line().split()
        require(len(words) == 4 and words[0] == "port", "server said %r" % words)
        self.port = int(words[1])
        self.pid = self.proc.pid

    def get(self, n):
        """n requests, one connection each; their statuses."""
        statuses = []
        for i in range(n):
            req = urllib.request.Request("http://127.0.0.1:%d/model" % self.port,
                                         headers={"X-Request-Id": "req-%d" % i})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    statuses.append(resp.status)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
        return statuses


def watchdog_config(ctx, name, log, rule):
    return config(ctx, name, [("log", log), ("seed", "5"), ("halt_on_error_rate", "5%"),
                              ("halt_window", "100")], [rule])


def counted_responses(ctx, pid, n):
    """The stats of pid once its watchdog has counted n responses: a response is counted when
    the server's send returns, which may be after the client has read it."""
    wait_until("%d responses counted" % n,
               lambda: sum(ctx.stats(pid)["http_responses"].values()) >= n)
    return ctx.stats(pid)


def test_watchdog(ctx):
    """A server answering 5xx under injected read faults is halted by the watchdog, with the
    halt logged and shown; later requests succeed. A healthy one is not halted."""
    data = ctx.data_file("wd-data.bin")
    log = ctx.path("wd.jsonl")
    cfg = watchdog_config(ctx, "wd.ini", log, ("flaky-read", [
        ("hook", "read"), ("action", "fail"), ("errno", "EIO"), ("path", "*/wd-data.bin"),
        ("rate", "30%"), ("select", "call")]))
    srv = Server(ctx, cfg, data)
    statuses = srv.get(300)
    st = counted_responses(ctx, srv.pid, 300)
    events = read_log(log)
    halts = [e for e in events if e["event"] == "halt"]
    last_500 = max((i for i, s in enumerate(statuses) if s == 500), default=-1)
    note("statuses: %d x 200, %d x 500, the last 500 at request %d; stats http %s; halts %s"
         % (statuses.count(200), statuses.count(500), last_500, st["http_responses"], halts))
    require(st["halted_by"] == ["watchdog"], "state %s" % st["halted_by"])
    require(st["watchdog"]["trips"] == 1, "trips %d" % st["watchdog"]["trips"])
    require(st["halt_reason"] and "watchdog" in st["halt_reason"], "halt reason %r"
            % st["halt_reason"])
    require(len(halts) == 1, "%d halt lines" % len(halts))
    h = halts[0]
    require(h["reason"] == "watchdog" and h["window"] == 100 and h["rate_ppm"] == 50000
            and h["errors"] > 5, "halt line %s" % h)
    require(statuses.count(500) == st["http_responses"]["5xx"], "client saw %d 500s, the "
            "watchdog counted %d" % (statuses.count(500), st["http_responses"]["5xx"]))
    require(all(s == 200 for s in statuses[150:]), "requests failed after the halt: %s"
            % statuses[150:])
    require(total(st, "applied") == statuses.count(500), "applied %d, 500s %d"
            % (total(st, "applied"), statuses.count(500)))
    r = ctx.mlchaos("stats", srv.pid, expect=0)
    require("halted by watchdog" in r.stdout, "stats text: %s" % r.stdout)
    # resume --watchdog clears it; the window still holds the errors, so it trips again
    r = ctx.mlchaos("resume", srv.pid, expect=0)
    require("still halted by watchdog" in r.stdout, "resume without --watchdog: %r" % r.stdout)
    ctx.mlchaos("resume", "--watchdog", srv.pid, expect=0)
    require(ctx.stats(srv.pid)["state"] == "running", "not running after resume --watchdog")
    srv.proc.finish()

    # healthy: same watchdog, a harmless rule
    log2 = ctx.path("wd-healthy.jsonl")
    cfg2 = watchdog_config(ctx, "wd-healthy.ini", log2, ("harmless", [
        ("hook", "read"), ("action", "delay"), ("delay", "1ns"), ("path", "*/wd-data.bin"),
        ("rate", "100%"), ("select", "call")]))
    srv2 = Server(ctx, cfg2, data)
    statuses = srv2.get(300)
    st = counted_responses(ctx, srv2.pid, 300)
    require(statuses == [200] * 300, "healthy server failed requests")
    require(st["state"] == "running" and st["watchdog"]["trips"] == 0, "healthy server halted: %s"
            % st["halted_by"])
    require(st["http_responses"]["2xx"] == 300, "2xx counted %d" % st["http_responses"]["2xx"])
    require(rules_by_name(st)["harmless"]["applied"] == 300, "harmless rule applied %d"
            % rules_by_name(st)["harmless"]["applied"])
    srv2.proc.finish()


LABELS_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def unescape_label(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_exposition(text):
    """Parses the text format 0.0.4 strictly enough to catch mistakes: HELP and TYPE before
    a family's samples, each family's samples together, labels well formed and escaped."""
    families, current, samples = {}, None, []
    require(text.endswith("\n"), "exposition does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            require(name not in families, "line %d: family %s declared twice" % (n, name))
            families[name] = {"help": line.split(" ", 3)[3], "type": None}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            require(name == current and typ in ("counter", "gauge"), "line %d: %s" % (n, line))
            families[name]["type"] = typ
        else:
            m = SAMPLE_RE.match(line)
            require(m, "line %d: not a sample: %r" % (n, line))
            name, labels, value = m.groups()
            require(name == current and families[name]["type"], "line %d: %s outside its family"
                    % (n, name))
            require(not families[name]["type"] == "counter" or name.endswith("_total"),
                    "counter %s without _total" % name)
            d = {}
            if labels:
                body = labels[1:-1]
                pos = 0
                while pos < len(body):
                    lm = LABELS_RE.match(body, pos)
                    require(lm, "line %d: bad labels %r" % (n, labels))
                    d[lm.group(1)] = unescape_label(lm.group(2))
                    pos = lm.end()
                    if pos < len(body):
                        require(body[pos] == ",", "line %d: bad labels %r" % (n, labels))
                        pos += 1
            samples.append((name, d, float(value)))
    return families, samples


def metrics_target(ctx):
    """A target whose config path holds a quote, a backslash and a newline (label escaping),
    having injected a known number of faults."""
    data = ctx.data_file("data.bin")
    weird = ctx.path('we"ird\\dir\nx')
    os.mkdir(weird)
    log = ctx.path("metrics.jsonl")
    cfg = os.path.join(weird, "chaos.ini")
    shutil.move(loops_config(ctx, data, log, read_rate="100%"), cfg)
    t = ctx.target(cfg, "loops", 2, 250, data)
    t.done()
    return t, cfg, read_log(log)


def test_metrics(ctx):
    """The exposition parses, names what the segment holds, escapes label values, and its
    injected total equals the log's line count."""
    t, cfg, events = metrics_target(ctx)
    r = ctx.mlchaos("metrics", expect=0)
    families, samples = parse_exposition(r.stdout)
    for name in ("mlchaos_faults_injected_total", "mlchaos_calls_matched_total",
                 "mlchaos_calls_selected_total", "mlchaos_would_inject_total", "mlchaos_halted",
                 "mlchaos_http_responses_total", "mlchaos_events_dropped_total",
                 "mlchaos_watchdog_trips_total"):
        require(name in families, "family %s missing" % name)
    mine = [(n, d, v) for n, d, v in samples if d.get("pid") == str(t.pid)]
    injected = sum(v for n, d, v in mine if n == "mlchaos_faults_injected_total")
    require(injected == len(events) and injected >= 1000, "faults_injected_total %d, log %d lines"
            % (injected, len(events)))
    for n, d, v in mine:
        if n in ("mlchaos_faults_injected_total", "mlchaos_would_inject_total"):
            require(set(d) == {"rule", "hook", "action", "pid", "phase"}, "labels %s" % d)
            # obs_target never accepts a connection: every fault is of the load phase
            require(d["phase"] in ("load", "serve") and (d["phase"] == "load" or v == 0),
                    "%s %s = %g" % (n, d, v))
    info = [d for n, d, v in mine if n == "mlchaos_process_info"]
    require(info and info[0]["config"] == cfg, "config label %r, expected %r"
            % (info and info[0].get("config"), cfg))
    halted = {d["reason"]: v for n, d, v in mine if n == "mlchaos_halted"}
    require(halted == {"command": 0, "watchdog": 0, "halt_file": 0, "max_faults": 0},
            "halted %s" % halted)
    ctx.mlchaos("halt", t.pid, expect=0)
    _, samples = parse_exposition(ctx.mlchaos("metrics", expect=0).stdout)
    require(("mlchaos_halted", {"pid": str(t.pid), "reason": "command"}, 1.0) in samples,
            "halted command not 1 after halt")
    # the server: /metrics, 404, 405, --max-requests
    srv = ctx.spawn_plain([ctx.mlchaos_exe, "metrics", "--listen", "127.0.0.1:0",
                           "--max-requests", "3"], stderr=subprocess.PIPE, text=True)
    port = int(re.search(r":(\d+)/metrics", srv.stderr.readline()).group(1))
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        require(resp.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                "content type %s" % resp.headers["Content-Type"])
        _, served = parse_exposition(resp.read().decode())
    require(sum(v for n, d, v in served if n == "mlchaos_faults_injected_total" and d["pid"]
                == str(t.pid)) == len(events), "served total differs")
    for path, method, code in (("/nothing", "GET", 404), ("/metrics", "POST", 405)):
        try:
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d%s" % (port, path), method=method, data=b"" if method
                == "POST" else None), timeout=10)
            raise Failed("%s %s answered 200" % (method, path))
        except urllib.error.HTTPError as e:
            require(e.code == code, "%s %s: %d, expected %d" % (method, path, e.code, code))
    require(srv.wait(timeout=10) == 0, "metrics --listen did not stop after 3 requests")
    # SIGTERM stops it
    srv = ctx.spawn_plain([ctx.mlchaos_exe, "metrics", "--listen", "127.0.0.1:0"],
                          stderr=subprocess.PIPE, text=True)
    srv.stderr.readline()
    srv.send_signal(signal.SIGTERM)
    require(srv.wait(timeout=10) == 0, "metrics --listen did not exit 0 on SIGTERM")
    ctx.mlchaos("resume", t.pid, expect=0)
    t.finish()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    res = doc.get("data", {}).get("result", [])
    return float(res[0]["value"][1]) if res else None


def test_prometheus(ctx):
    """A real Prometheus scraping `mlchaos metrics --listen` returns, through its HTTP API, the
    injected count the log shows."""
    prom = "/usr/bin/prometheus"
    if not os.access(prom, os.X_OK):
        skip("%s is missing (Debian package 'prometheus'; scripts/setup installs it)" % prom)
    t, _, events = metrics_target(ctx)
    mx = ctx.spawn_plain([ctx.mlchaos_exe, "metrics", "--listen", "127.0.0.1:0"],
                         stderr=subprocess.PIPE, text=True)
    mport = int(re.search(r":(\d+)/metrics", mx.stderr.readline()).group(1))
    pport = free_port()
    yml = ctx.write("prometheus.yml", "global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\nscrape_configs:\n  - job_name: mlchaos\n"
                    "    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % mport)
    os.mkdir(ctx.path("tsdb"))
    ctx.spawn_plain([prom, "--config.file=" + yml, "--storage.tsdb.path=" + ctx.path("tsdb"),
                     "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
                    stdout=subprocess.DEVNULL, stderr=open(ctx.path("prometheus.log"), "wb"))
    query = 'sum(mlchaos_faults_injected_total{pid="%d"})' % t.pid
    t0 = time.monotonic()
    got = None
    while time.monotonic() - t0 < 30:
        got = prom_query(pport, query)
        if got == len(events):
            break
        time.sleep(0.5)
    note("prometheus answered %s = %s after %.1f s; the log has %d lines"
         % (query, got, time.monotonic() - t0, len(events)))
    if got != len(events):
        with open(ctx.path("prometheus.log"), errors="replace") as f:
            note("prometheus log:\n" + f.read()[-3000:])
    require(got == len(events), "prometheus says %s, the log %d" % (got, len(events)))
    t.finish()


def test_report(ctx):
    """report's per-rule counts equal the log's; a truncated last line and non-JSON lines are
    skipped and counted."""
    data = ctx.data_file("data.bin")
    log = ctx.path("report.jsonl")
    cfg = loops_config(ctx, data, log, extra=[("request_key", "thread")])
    t = ctx.target(cfg, "loops", 3, 300, data)
    t.done()
    t.finish()
    events = read_log(log)
    with open(log, "ab") as f:
        f.write(b"this is not json\n{\"event\": \"fault\", \"rule\": \n")
        f.write(b'{"time":"2030-01-01T00:00:00.000000Z","event":"fault","rule":"cut-off"')
    r = ctx.mlchaos("report", "--json", log, expect=0)
    doc = json.loads(r.stdout)
    require(doc["logs"][0]["non_json"] == 2 and doc["logs"][0]["truncated"],
            "non_json %d truncated %s" % (doc["logs"][0]["non_json"], doc["logs"][0]["truncated"]))
    rules = {x["rule"]: x for x in doc["rules"]}
    require("cut-off" not in rules, "the truncated line was counted")
    want = by_rule(events, event="fault", applied=True)
    for name, n in want.items():
        require(rules[name]["injected"] == n, "rule %s: report %d, log %d"
                % (name, rules[name]["injected"], n))
        by_phase = {p: sum(1 for e in events if e["rule"] == name and e.get("applied") and
                           e["phase"] == p) for p in ("load", "serve")}
        require({p: rules[name]["by_phase"][p]["injected"] for p in by_phase} == by_phase,
                "rule %s by phase: report %s, log %s" % (name, rules[name]["by_phase"], by_phase))
        fns = {}
        for e in events:
            if e["rule"] == name:
                fns[e["fn"]] = fns.get(e["fn"], 0) + 1
        got = {f["fn"]: f["injected"] for f in rules[name]["functions"]}
        require(got == fns, "rule %s by function: report %s, log %s" % (name, got, fns))
        times = sorted(e["time"] for e in events if e["rule"] == name)
        require(rules[name]["first"] == times[0] and rules[name]["last"] == times[-1],
                "rule %s: first/last %s %s, log %s %s" % (name, rules[name]["first"],
                                                          rules[name]["last"], times[0],
                                                          times[-1]))
        keys = {e["key"] for e in events if e["rule"] == name and e["key"] is not None}
        require(rules[name]["requests"] == len(keys), "rule %s: %d requests, log has %d keys"
                % (name, rules[name]["requests"], len(keys)))
    require(set(rules) == set(want), "report rules %s, log rules %s" % (set(rules), set(want)))
    r = ctx.mlchaos("report", log, expect=0)
    require("truncated" in r.stdout and "2 lines not JSON" in r.stdout, "report text:\n%s"
            % r.stdout)
    # halts: a watchdog halt line is listed with its figures
    halt = {"time": "2030-01-01T00:00:00.000001Z", "mono_ns": 1, "pid": 42, "tid": 42,
            "event": "halt", "reason": "watchdog", "errors": 11, "window": 100,
            "rate_ppm": 50000}
    hlog = ctx.write("halt.jsonl", json.dumps(halt) + "\n")
    doc = json.loads(ctx.mlchaos("report", "--json", hlog, log, expect=0).stdout)
    require(doc["halts"] == [{k: halt[k] for k in ("time", "pid", "reason", "errors", "window",
                                                   "rate_ppm")}], "halts %s" % doc["halts"])


def test_torn_log(ctx):
    """Every reader of the log skips a torn last line (what a process SIGKILLed mid-write
    leaves: see split_log), says so, and uses every whole line: `mlchaos report` and `mlchaos
    replay` give for a log with a torn last line exactly what they give for the same log
    without it (scenario-experiment-torn-log does the same for `mlchaos experiment`). The torn
    line is cut two ways: in its middle, and just before its newline, a whole JSON object that
    a careless reader would count (a fault of a call the log has not got)."""
    data = ctx.data_file("data.bin")
    src = ctx.path("src.jsonl")
    t = ctx.target(loops_config(ctx, data, src), "loops", 2, 200, data)
    t.done()
    t.finish()
    with open(src, "rb") as f:
        whole = f.read()
    lines = split_log(whole, src)[0]
    faults = [json.loads(raw) for raw in lines if b'"event":"fault"' in raw]
    require(len(faults) > 100, "only %d fault lines" % len(faults))
    extra = dict(faults[-1], call=faults[-1]["call"] + 1000)
    extra_line = json.dumps(extra, separators=(",", ":")).encode()
    cuts = {"whole": b"", "cut-mid-line": extra_line[:len(extra_line) // 2],
            "cut-before-newline": extra_line}
    got = {}
    for name, tail in cuts.items():
        d = ctx.path(name)
        os.mkdir(d)
        log = os.path.join(d, "events.jsonl")
        with open(log, "wb") as f:
            f.write(whole + tail)
        doc = json.loads(ctx.mlchaos("report", "--json", log, expect=0).stdout)
        text = ctx.mlchaos("report", log, expect=0).stdout
        out = os.path.join(d, "replay.ini")
        r = ctx.mlchaos("replay", log, "-o", out, expect=0)
        with open(out) as f:
            replay = f.read().replace(d, "DIR")
        li = doc["logs"][0]
        require(li["truncated"] == bool(tail) and li["lines"] == len(lines) and
                li["events"] == len(lines) and li["non_json"] == 0,
                "%s: report read %s of %d whole lines" % (name, li, len(lines)))
        said = "last line truncated (no newline), skipped" in text
        require(said == bool(tail), "%s: report text %s the torn line:\n%s"
                % (name, "does not mention" if tail else "mentions", text))
        note_re = r"events\.jsonl:%d: the last line has no newline" % (len(lines) + 1)
        require(bool(re.search(note_re, r.stderr)) == bool(tail), "%s: replay said %r"
                % (name, r.stderr))
        got[name] = (doc["rules"], doc["halts"], replay)
    for name in cuts:
        require(got[name][:2] == got["whole"][:2], "%s: report counts %s, of the whole log %s"
                % (name, got[name][:2], got["whole"][:2]))
        require(got[name][2] == got["whole"][2], "%s: replay wrote\n%s\nfor the whole log\n%s"
                % (name, got[name][2], got["whole"][2]))
    require(sum(x["injected"] for x in got["whole"][0]) == len(faults),
            "report counts %s, the log %d faults" % (got["whole"][0], len(faults)))
    require(got["whole"][2].count("\nreplay = ") > 10, "replay wrote %s"
            % got["whole"][2])


def test_top(ctx):
    """top, not on a terminal: plain repeated frames, --iterations stops it."""
    data = ctx.data_file("data.bin")
    cfg = loops_config(ctx, data, ctx.path("top.jsonl"))
    t = ctx.target(cfg, "loops", 1, 50, data)
    t.done()
    r = ctx.mlchaos("top", "--iterations", 3, "--interval", "0.05", t.pid, expect=0)
    require(r.stdout.count("--- ") == 3, "top printed %d frames" % r.stdout.count("--- "))
    require("\033[" not in r.stdout, "top drew escapes on a pipe")
    require(r.stdout.count("process %d" % t.pid) == 3 and "read-eio" in r.stdout, r.stdout)
    require("applied/s" in r.stdout, "no rate column: %s" % r.stdout)
    t.finish()


TESTS = {
    "usage": test_usage,
    "log-count": test_log_count,
    "sigkill": test_sigkill,
    "stale": test_stale,
    "halt": test_halt,
    "halt-file": test_halt_file,
    "max-faults": test_max_faults,
    "reload": test_reload,
    "reload-swap": test_reload_swap,
    "waits": test_waits,
    "shadow": test_shadow,
    "watchdog": test_watchdog,
    "metrics": test_metrics,
    "prometheus": test_prometheus,
    "report": test_report,
    "torn-log": test_torn_log,
    "top": test_top,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--wd-server", required=True)
    ap.add_argument("--preload-before")
    ap.add_argument("test", choices=sorted(TESTS))
    args = ap.parse_args()
    ctx = Ctx(args)
    return run_case(args.test, lambda: TESTS[args.test](ctx), ctx.cleanup)


if __name__ == "__main__":
    fail_on_sigterm()
    sys.exit(main())
