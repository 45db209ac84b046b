"""What the hardening and real-process runners share: a clean environment for children, the
preload list, reading a process's segment through hd-shm, reading JSON-lines logs, starting
and stopping processes by pid with deadlines, and the skip convention (exit 77)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
# TSan: any report fails the run (exit 66), and is printed whole.
TSAN_ENV = {"TSAN_OPTIONS": "halt_on_error=1:exitcode=66:second_deadlock_stack=1"}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer",
                   "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer: reported")


# Rules that would fail a reload if the library's own reads, opens or allocations were ever
# decided by the rules: reads and opens of *.ini files (the config a reload parses) and
# allocations of 4097 bytes (the parser's first buffer).
SELF_RULES = """
[fault.config-read]
hook = read
action = fail
errno = EIO
path = *.ini
select = call

[fault.config-open]
hook = open
action = fail
errno = EACCES
path = *.ini
select = call

[fault.parser-malloc]
hook = malloc
action = fail
min_size = 4097
max_size = 4097
select = call
"""


def skip(reason):
    print(f"skip: {reason}")
    sys.stdout.flush()
    sys.exit(77)


class Checks:
    """Counts failed checks; every check prints what it compared."""

    def __init__(self):
        self.failures = 0
        self.count = 0

    def fail(self, msg):
        print(f"FAIL: {msg}", file=sys.stderr)
        sys.stderr.flush()
        self.failures += 1

    def check(self, cond, msg):
        self.count += 1
        if cond:
            print(f"ok: {msg}")
        else:
            self.fail(msg)
        return cond

    def status(self):
        return 1 if self.failures else 0


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("MLCHAOS_")}
    if extra:
        env.update(extra)
    return env


def preload(lib, before=""):
    """The LD_PRELOAD value: a sanitizer runtime first if any, then the library; absolute, so
    that a child that changes directory still finds them."""
    return ":".join(os.path.abspath(p) for p in (before, lib) if p)


def shm(tool, pid):
    """The figures of process pid's segment, or None when it has none."""
    p = subprocess.run([tool, str(pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def injected(fig):
    return {r["name"]: r["injected"] for r in fig["rules"]}


def read_log(path, fail, rule_sets=False):
    """The objects of a JSON-lines log; a line that does not parse is a failure. The "rules"
    lines (the rule set in force, written at start, at each reload and in a forked child) are
    left out unless rule_sets is true."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("no line end: a torn line")
                e = json.loads(raw)
                if rule_sets or e.get("event") != "rules":
                    out.append(e)
            except ValueError as e:
                fail(f"{path}:{n}: not a JSON line ({e}): {raw[:200]!r}")
    return out


def sanitizer_report(text):
    return next((m for m in SANITIZER_MARKS if m in text), None)


class ChaosRuns:
    """Commands run under `mlchaos run`, each in a fresh directory of tmp holding its config
    and its event logs: what the tests that compare a run's faults with its log share."""

    def __init__(self, mlchaos, env_pairs, tmp):
        self.mlchaos = mlchaos
        self.tmp = tmp
        self.c = Checks()
        self.env = clean_env(dict(kv.partition("=")[::2] for kv in env_pairs))
        self.runs = 0

    @classmethod
    def run_all(cls, prefix, *args):
        """Makes cls(*args, tmp) in a fresh temporary directory (removed after, unless
        FT_KEEP is set), calls its main() and returns the exit status of its checks."""
        tmp = tempfile.mkdtemp(prefix=prefix)
        try:
            t = cls(*args, tmp)
            t.main()
            return t.c.status()
        finally:
            if not os.environ.get("FT_KEEP"):
                shutil.rmtree(tmp, ignore_errors=True)

    def run(self, argv, config=None, timeout_s=120):
        """Runs argv, under `mlchaos run` when config (INI text, with "{log}" where the log
        path goes) is given. Returns (the CompletedProcess, None after a timeout; the log's
        objects; the run's directory). Output is decoded leniently: a damaged file may put
        any byte in a message."""
        self.runs += 1
        rundir = os.path.join(self.tmp, f"run-{self.runs}")
        os.mkdir(rundir)
        if config is not None:
            cfg = os.path.join(rundir, "chaos.ini")
            with open(cfg, "w") as f:
                f.write(config.replace("{log}", os.path.join(rundir, "log-%p.jsonl")))
            argv = [self.mlchaos, "run", "-c", cfg, "--"] + argv
        try:
            p = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, encoding="utf-8", errors="replace",
                               timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p = None
        if p is not None and sanitizer_report(p.stderr):
            self.c.fail(f"{argv}: a sanitizer report\n{p.stderr[-3000:]}")
        lines = []
        for name in sorted(os.listdir(rundir)):
            if name.startswith("log-") and name.endswith(".jsonl"):
                lines += read_log(os.path.join(rundir, name), self.c.fail)
        return p, lines, rundir


class Proc:
    """A child process whose stdout lines are collected by a thread and whose stderr goes to a
    file; stopped by pid (SIGTERM, then SIGKILL after a deadline) in every path."""

    def __init__(self, argv, env, stderr_path, stdin=subprocess.DEVNULL, cwd=None,
                 preexec_fn=None):
        self.argv = argv
        self.stderr_path = stderr_path
        self.err = open(stderr_path, "wb")
        self.p = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=self.err, cwd=cwd, preexec_fn=preexec_fn)
        self.pid = self.p.pid
        self.lines = []
        self.pos = 0  # next_line() looks from here
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def wait_line(self, prefix, deadline_s):
        """The first stdout line starting with prefix, or None at the deadline or the end."""
        end = time.monotonic() + deadline_s
        with self.cond:
            while True:
                for line in self.lines:
                    if line is None:
                        return None
                    if line.startswith(prefix):
                        return line
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def cpu_ticks(self):
        """The CPU time the process has used, all its threads, in clock ticks; None once it
        is gone."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            return None

    def wait_line_working(self, prefix, idle_s=60):
        """wait_line for a process that computes before it prints: it waits as long as the
        process keeps using CPU, however slowly a busy machine runs it, and gives up (None)
        when it has used none for idle_s: a hang, not a slow machine."""
        last, since = self.cpu_ticks(), time.monotonic()
        while True:
            line = self.wait_line(prefix, 5)
            if line is not None or not self.alive():
                return line if line is not None else self.wait_line(prefix, 1)
            now = self.cpu_ticks()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > idle_s:
                return None

    def next_line(self, prefix, deadline_s):
        """The next stdout line starting with prefix that next_line has not returned yet, or
        None at the deadline or the end of the output."""
        end = time.monotonic() + deadline_s
        with self.cond:
            while True:
                for i in range(self.pos, len(self.lines)):
                    line = self.lines[i]
                    if line is None:
                        return None
                    if line.startswith(prefix):
                        self.pos = i + 1
                        return line
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def stdout(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def send(self, data):
        """Writes to the child's stdin; False when it is gone."""
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def wait(self, deadline_s):
        """The exit status, or None when still running at the deadline."""
        try:
            rc = self.p.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join(timeout=5)
        return rc

    def stop(self, deadline_s=10):
        """SIGTERM, then SIGKILL; returns the exit status."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=deadline_s)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout=deadline_s)
        self.reader.join(timeout=5)
        self.err.close()
        return self.p.returncode


def wait_for(pred, deadline_s, step_s=0.05):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    return pred()
