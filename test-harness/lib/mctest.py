"""mctest: what every Python test driver of test-harness/ shares, imported from the driver's
own directory (sys.path.insert(0, os.path.join(HERE, "..", "lib"))).

One assertion style: check(cond, msg) counts a check and says "FAIL: msg" on stderr when cond
is false, then goes on; require(cond, msg) is the same check, and a false cond also ends the
case (it raises Failed, which run_case() catches). finish() gives the exit status: 1 when a
check failed, and 1 when no check ran at all, so that a driver that asserts nothing can never
pass. skip(reason) exits 77, meson's skip code.

Besides: a clean environment for children, the preload list, reading a process's segment
through hd-shm, reading JSON-lines logs, starting and stopping processes by pid with
deadlines, reading one HTTP/1.1 answer off a keep-alive socket."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

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


class Failed(Exception):
    """A failed check that ends the case (run_case() catches it): making one counts the failure
    and says it, so that `raise Failed(msg)` cannot end a case unnoticed."""

    def __init__(self, msg):
        super().__init__(msg)
        fail(msg)


_count = 0
_failures = 0


def check(cond, msg):
    """Counts one check; when cond is false, says msg and counts a failure. Returns cond, so
    that a caller can skip what depends on it."""
    global _count
    if cond:
        _count += 1
    else:
        fail(msg)
    return cond


def fail(msg):
    """One check that failed, for a fault seen where no condition is at hand (a callback, an
    exception). The run goes on."""
    global _count, _failures
    _count += 1
    _failures += 1
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.stderr.flush()


def require(cond, msg):
    """check(), and a false cond ends the case: what follows depends on it."""
    if not cond:
        raise Failed(msg)
    return check(cond, msg)


def failures():
    """How many checks failed so far: for what to show only after a failure."""
    return _failures


def note(msg):
    """What a reader of the log wants besides the checks: figures, the phase reached."""
    print(msg)
    sys.stdout.flush()


def skip(reason):
    """Exits 77 (meson's skip) with the reason; 1 instead when a check already failed, so that
    a skip never hides a failure."""
    if _failures:
        fail(f"skipped after failures: {reason}")
        sys.exit(finish())
    print(f"skip: {reason}")
    sys.stdout.flush()
    sys.exit(77)


def finish(name=None):
    """The exit status of the checks: 0 when some ran and none failed; 1 when one failed or
    none ran (a driver that asserts nothing must not pass)."""
    who = f"{name}: " if name else ""
    if _count == 0:
        print(f"FAIL: {who}no check ran", file=sys.stderr)
        return 1
    if _failures:
        print(f"{who}{_failures} of {_count} checks failed", file=sys.stderr)
        return 1
    print(f"{who}{_count} checks passed")
    return 0


def run_case(name, fn, cleanup=None):
    """Runs fn(), one case, and returns finish()'s status. A Failed or any other exception ends
    the case as a failure (the exception is shown); cleanup() runs whatever happens, skips
    (SystemExit) included."""
    try:
        fn()
    except Failed:
        pass  # counted and said when it was made
    except Exception as e:  # noqa: BLE001: any error in a case fails it, after cleanup
        traceback.print_exc()
        fail(f"{name}: {type(e).__name__}: {e}")
    finally:
        if cleanup:
            cleanup()
    return finish(name)


def in_tmpdir(prefix, fn):
    """Calls fn(tmp) with a fresh temporary directory, removed after (kept when FT_KEEP is set,
    to look at a failure), and returns finish()'s status."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        fn(tmp)
    finally:
        if not os.environ.get("FT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return finish()


def fail_on_sigterm():
    """meson's timeout sends SIGTERM: end the case as a failure through run_case's cleanup, so
    that no server outlives it."""
    def on_term(signum, frame):
        raise Failed("terminated by SIGTERM (a timeout?)")
    signal.signal(signal.SIGTERM, on_term)


def wait_for(pred, what, deadline_s=30.0, step_s=0.01):
    """Polls pred() until it returns something true, and returns that; a check that fails and
    ends the case (Failed) when the deadline passes first. The deadline is for what must
    happen (a server ready, an exit), never a measure of speed."""
    v = poll(pred, deadline_s, step_s)
    require(v, "timed out waiting for " + what)
    return v


def poll(pred, deadline_s, step_s=0.05):
    """pred()'s first true value within deadline_s, or its last value: for callers that say
    themselves what a timeout means."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    return pred()


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


def http_answer(s):
    """The body of the HTTP/1.1 answer (with a Content-Length) that comes next on socket s,
    or None when the connection ends before it is whole."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return None
        body += chunk
    return body


def sanitizer_report(text):
    return next((m for m in SANITIZER_MARKS if m in text), None)


class ChaosRuns:
    """Commands run under `mlchaos run`, each in a fresh directory of tmp holding its config
    and its event logs: what the tests that compare a run's faults with its log share."""

    def __init__(self, mlchaos, env_pairs, tmp):
        self.mlchaos = mlchaos
        self.tmp = tmp
        self.env = clean_env(dict(kv.partition("=")[::2] for kv in env_pairs))
        self.runs = 0

    @classmethod
    def run_all(cls, prefix, *args):
        """Makes cls(*args, tmp) in a fresh temporary directory (in_tmpdir), calls its main()
        and returns the exit status of its checks."""
        return in_tmpdir(prefix, lambda tmp: cls(*args, tmp).main())

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
            fail(f"{argv}: a sanitizer report\n{p.stderr[-3000:]}")
        lines = []
        for name in sorted(os.listdir(rundir)):
            if name.startswith("log-") and name.endswith(".jsonl"):
                lines += read_log(os.path.join(rundir, name), fail)
        return p, lines, rundir


def cpu_ticks(pid):
    """The CPU time process pid has used, all its threads, in clock ticks; None once it is
    gone: what tells a hang from a slow machine."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


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
        return cpu_ticks(self.pid)

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
