#!/usr/bin/python3
# tty-signals.py: on a real terminal (a pty), Ctrl-C and a hangup reach the
# child of `mlchaos run` exactly once, whether mlchaos leads the session, sits
# under another process, or the child moved to its own process group.
# The child counts what it gets and stops by itself 2 s after the first signal
# (a second copy would come within that time), or after 20 s without one: how
# long a busy machine takes to deliver it does not matter.
# Usage: tty-signals.py MLCHAOS PROBE_LIB
import os
import pty
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

CHILD = r"""
import os, signal, sys, time
seen = {"INT": 0, "HUP": 0}
def count(sig, frame):
    seen["INT" if sig == signal.SIGINT else "HUP"] += 1
signal.signal(signal.SIGINT, count)
signal.signal(signal.SIGHUP, count)
if sys.argv[2] == "own-pgrp":
    os.setpgid(0, 0)
open(sys.argv[1] + ".ready", "w").close()
start = time.monotonic()
first = None
while time.monotonic() - (first or start) < (2.0 if first else 20.0):
    if first is None and (seen["INT"] or seen["HUP"]):
        first = time.monotonic()
    time.sleep(0.01)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("INT=%d HUP=%d" % (seen["INT"], seen["HUP"]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
"""

# Leads the session itself, so mlchaos does not; ignores what the terminal
# sends it (handlers, not SIG_IGN: exec resets them, mlchaos starts clean).
WRAPPER = r"""
import signal, subprocess, sys
signal.signal(signal.SIGINT, lambda *a: None)
signal.signal(signal.SIGHUP, lambda *a: None)
sys.exit(subprocess.call(sys.argv[1:]))
"""


def drain(fd):
    try:
        while os.read(fd, 1024):
            pass
    except OSError:
        pass


def run_case(mlchaos, mode, action, tmp):
    out = os.path.join(tmp, mode + "-" + action)
    cmd = [mlchaos, "run", "--", "/usr/bin/python3", "-c", CHILD, out, mode]
    pid, fd = pty.fork()
    if pid == 0:
        if mode == "wrapped":
            os.execv("/usr/bin/python3", ["/usr/bin/python3", "-c", WRAPPER] + cmd)
        os.execv(mlchaos, cmd)
    if not mctest.poll(lambda: os.path.exists(out + ".ready"), 10, 0.01):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "the child never started"
    time.sleep(0.2)  # let the child move to its own group, if it does
    if action == "hangup":
        os.close(fd)
    else:
        os.write(fd, b"\x03")
        drain(fd)
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    if not mctest.poll(lambda: os.path.exists(out), 30, 0.01):
        return "the child never reported (status %d)" % os.waitstatus_to_exitcode(status)
    with open(out) as f:
        return f.read()


def main():
    mlchaos, probe = sys.argv[1], sys.argv[2]
    os.environ["MLCHAOS_LIB"] = probe
    for name in ("MLCHAOS_CONFIG", "LD_PRELOAD", "MC_PROBE_LOG"):
        os.environ.pop(name, None)
    cases = [
        ("leader", "ctrl-c", "INT=1 HUP=0"),
        ("wrapped", "ctrl-c", "INT=1 HUP=0"),
        ("own-pgrp", "ctrl-c", "INT=1 HUP=0"),
        ("leader", "hangup", "INT=0 HUP=1"),
    ]
    with tempfile.TemporaryDirectory(prefix="mc-cli-tty.") as tmp:
        for mode, action, want in cases:
            got = run_case(mlchaos, mode, action, tmp)
            mctest.check(got == want, "%s, mlchaos %s: child saw [%s], want [%s]"
                         % (action, mode, got, want))
    return mctest.finish("tty-signals")


if __name__ == "__main__":
    sys.exit(main())
