#!/usr/bin/python3
"""The library's own faults: each case runs hd-host (hd_host.c) under a rule that fails its
reads with EIO, breaks something the library itself depends on, and checks that the host
keeps working (every fault still injected and seen, exit 0) and that nothing is lost (every
fault counted in the segment, logged or counted as dropped; logs made of whole JSON lines).

  log-missing     log = /nonexistent/dir/...: lines dropped and counted, one message
  log-full        the log on a 8 KiB tmpfs (root and mount needed, else skipped)
  log-fsize       the log past RLIMIT_FSIZE (64 KiB): writes fail with EFBIG; the host, which
                  leaves SIGXFSZ at its default, must not be killed by the library's own write
  fsize-start     RLIMIT_FSIZE (16 KiB) below the segment's size: the host must start and
                  work all the same (counters in private memory if need be)
  shm-unavailable /dev/shm read-only in a private mount namespace (root and unshare needed,
                  else skipped): faults injected and logged without a segment
  config-deleted  the config removed, then a reload asked through the segment: the reload
                  fails cleanly and the old rules stay; a new config then reloads
  reload-self     rules that fail reads and opens of *.ini files and 4097-byte allocations
                  (the config a reload parses, the parser's first buffer): a reload is accepted
                  all the same, no fault is logged on the config, the host's errno intact
  fork            fork in a multithreaded process while another thread logs faults: each
                  child logs to its own %p file, whole lines, its own counts
  exec            exec with LD_PRELOAD removed (the new image runs without the library) and
                  kept (the new image has it again)

Files planted at the log's path (a world-writable directory, a name anyone can predict): the
library refuses each, says why once, and the host runs on without a log, promptly, its faults
injected and counted (their lines as dropped), the planted thing left as it was:
  log-fifo        a FIFO, with no reader (its open would block the host for ever) and with a
                  reader that must receive nothing
  log-symlink     a symbolic link to a file of ours, one to /dev/null, and a hard link to a
                  file of ours
  log-other-user  a file owned by nobody (root needed to chown it, else skipped)
  log-open-mode   a file of ours with mode 0666
  log-device      /dev/null itself, and a directory
  halt-planted    a FIFO at the halt file's path, owned by nobody when run as root: it halts
                  (the halt file counts whoever made it: see shim/segment.c) without blocking,
                  and its removal resumes injection
"""

import argparse
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

DATA = "hd-host-data.bin"
CONFIG = """\
[mlchaos]
request_key = none
log = {log}

[fault.eio]
hook = read
action = fail
errno = EIO
path = */{data}
select = call
"""
MALLOC_RULE = """
[fault.malloc-half]
hook = malloc
action = fail
min_size = 2900
max_size = 3100
rate = 50%
select = call
"""
DEADLINE_S = 60
REFUSED_BOUND_S = 30  # a refused log costs the host nothing: far below, on any machine


class Case:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.data = os.path.join(tmp, DATA)
        with open(self.data, "wb") as f:
            f.write(bytes(range(256)) * 16)
        self.config = os.path.join(tmp, "host.ini")

    def write_config(self, log, extra=""):
        with open(self.config, "w") as f:
            f.write(CONFIG.format(log=log, data=DATA) + extra)

    def env(self):
        extra = {"LD_PRELOAD": mctest.preload(self.a.lib, self.a.preload_before),
                 "MLCHAOS_CONFIG": self.config}
        if self.a.sanitize:
            extra.update(mctest.SANITIZER_ENV)
        return mctest.clean_env(extra)

    def start(self, argv, env=None, preexec_fn=None, name="host"):
        return mctest.Proc(argv, env or self.env(), os.path.join(self.tmp, name + ".stderr"),
                           stdin=subprocess.PIPE, preexec_fn=preexec_fn)

    def host(self, *args):
        return [self.a.host] + list(args)

    def work(self, p, n):
        """Sends "work n"; returns (eio, other, ok) or None."""
        line = None
        if p.send(f"work {n}\n".encode()):
            line = p.next_line("seen ", DEADLINE_S)
        if line is None:
            mctest.fail(f"no answer to 'work {n}' (host alive: {p.alive()}): "
                        f"{p.stderr()[-3000:]}")
            return None
        return tuple(int(x) for x in line.split()[1:4])

    def finish(self, p, what="host"):
        """Sends "exit"; checks the host exited 0 and its stderr carries no sanitizer report."""
        if p.alive():
            p.send(b"exit\n")
        rc = p.wait(DEADLINE_S)
        if rc is None:
            mctest.fail(f"{what} did not exit within {DEADLINE_S} s")
            rc = p.stop()
        else:
            p.stop()
        err = p.stderr()
        report = mctest.sanitizer_report(err)
        mctest.check(report is None, f"{what}: no sanitizer report ({report or 'none'})")
        ok = mctest.check(rc == 0, f"{what} exit status {rc} == 0"
                          + (f" (killed by {signal.Signals(-rc).name})" if rc and rc < 0 else ""))
        if not ok or report:
            print(err[-6000:], file=sys.stderr)
        return err

    def figures(self, pid):
        fig = mctest.shm(self.a.shm_tool, pid)
        mctest.check(fig is not None, f"segment of {pid} readable")
        return fig

    # ---- cases ------------------------------------------------------------------------

    def dropped_case(self, log, n, preexec_fn=None, expect_all_dropped=False):
        self.write_config(log)
        p = self.start(self.host("serve", self.data), preexec_fn=preexec_fn)
        fig = None
        try:
            if mctest.check(p.wait_line("ready", DEADLINE_S) is not None, "host ready"):
                seen = self.work(p, n)
                mctest.check(seen == (n, 0, 0), f"host saw {seen}: {n} EIO, nothing else")
                fig = self.figures(p.pid)
                seen2 = self.work(p, 10)  # and keeps working after that
                mctest.check(seen2 == (10, 0, 0), f"host still works: {seen2}")
        finally:
            err = self.finish(p)
        if fig:
            inj = mctest.injected(fig)["eio"]
            logged, dropped = fig["events_logged"], fig["events_dropped"]
            print(f"segment: injected {inj}, logged {logged}, dropped {dropped}")
            mctest.check(inj == n, f"injected {inj} == {n}")
            # n faults and the rule set's line, written at start
            mctest.check(logged + dropped == n + 1,
                         f"logged {logged} + dropped {dropped} == {n} + 1")
            mctest.check(dropped > 0, f"lines dropped: {dropped}")
            if expect_all_dropped:
                mctest.check(logged == 0, f"nothing logged ({logged})")
        return p, fig, err

    def case_log_missing(self):
        log = "/nonexistent/dir/hd-%p.jsonl"
        p, fig, err = self.dropped_case(log, 200, expect_all_dropped=True)
        said = err.count("the log cannot be opened for writing: No such file or directory")
        mctest.check(said == 1, f"the library said once that it cannot open the log ({said})")
        mctest.check(f"mlchaos: /nonexistent/dir/hd-{p.pid}.jsonl: " in err,
                     "the message begins with the log's path")

    # ---- files planted at the log's path ---------------------------------------------------

    def refused_case(self, log, why, n=200):
        """The host under log = log (no %p: the path is known before the host starts) must
        start and finish well within REFUSED_BOUND_S, inject and count n faults, log none,
        and say once, naming the path, why the log was refused."""
        t0 = time.monotonic()
        p, fig, err = self.dropped_case(log, n, expect_all_dropped=True)
        took = time.monotonic() - t0
        mctest.check(took < REFUSED_BOUND_S, f"the host ran to its end in {took:.1f} s "
                     f"(< {REFUSED_BOUND_S} s)")
        said = err.count(f"mlchaos: {log}: the log ")
        if not mctest.check(said == 1, f"one message about {log} ({said})"):
            print(err[-2000:], file=sys.stderr)
        mctest.check(f"mlchaos: {log}: the log {why}" in err, f"it says the log {why}")
        mctest.check("faults are still injected and counted" in err,
                     "it says the host runs on without the log")
        return fig

    def planted_file(self, name, content=b"someone else's line\n", mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
        return path, content

    def check_untouched(self, path, content):
        with open(path, "rb") as f:
            now = f.read()
        mctest.check(now == content, f"{path} left as it was ({len(now)} bytes)")

    def case_log_fifo(self):
        log = os.path.join(self.tmp, "hd-fifo.jsonl")
        os.mkfifo(log, 0o600)
        self.refused_case(log, "is a FIFO, not a regular file")
        # With a reader, the open would succeed: the opened fd is what must be refused.
        reader = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.refused_case(log, "is a FIFO, not a regular file")
            try:
                got = os.read(reader, 4096)
            except BlockingIOError:
                got = b""
            mctest.check(got == b"", f"nothing written into the FIFO ({len(got)} bytes)")
        finally:
            os.close(reader)

    def case_log_symlink(self):
        victim, content = self.planted_file("victim.txt", b"a file of ours\n")
        log = os.path.join(self.tmp, "hd-link.jsonl")
        os.symlink(victim, log)
        self.refused_case(log, "is a symbolic link, which is not followed")
        self.check_untouched(victim, content)
        os.unlink(log)
        os.symlink("/dev/null", log)
        self.refused_case(log, "is a symbolic link, which is not followed")
        os.unlink(log)
        os.link(victim, log)  # another name for a file of ours
        self.refused_case(log, "has 2 names (hard links)")
        self.check_untouched(victim, content)

    def case_log_other_user(self):
        if os.geteuid() != 0:
            mctest.skip("log-other-user needs root to give the log file to another user")
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            mctest.skip("log-other-user: no user 'nobody' here")
        log, content = self.planted_file("hd-other.jsonl")
        os.chown(log, nobody.pw_uid, nobody.pw_gid)
        self.refused_case(log, f"belongs to uid {nobody.pw_uid}, not to uid 0")
        self.check_untouched(log, content)

    def case_log_open_mode(self):
        log, content = self.planted_file("hd-open.jsonl", mode=0o666)
        self.refused_case(log, "is writable by group or others (mode 0666)")
        self.check_untouched(log, content)
        mctest.check(os.stat(log).st_mode & 0o777 == 0o666, "its mode left as it was")

    def case_log_device(self):
        self.refused_case("/dev/null", "is a character device, not a regular file")
        log = os.path.join(self.tmp, "hd-dir.jsonl")
        os.mkdir(log)
        self.refused_case(log, "is a directory, not a regular file")
        mctest.check(os.listdir(log) == [], "nothing created in the directory")

    def case_halt_planted(self):
        halt = os.path.join(self.tmp, "halt")
        os.mkfifo(halt, 0o600)
        owner = "us"
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(halt, nobody.pw_uid, nobody.pw_gid)
            owner = f"uid {nobody.pw_uid}"
        self.write_config(os.path.join(self.tmp, "hd-%p.jsonl") + f"\nhalt_file = {halt}")
        t0 = time.monotonic()
        p = self.start(self.host("serve", self.data))
        try:
            if mctest.check(p.wait_line("ready", DEADLINE_S) is not None, "host ready"):
                seen = self.work(p, 20)
                mctest.check(seen == (0, 0, 20), f"halted by a FIFO of {owner}: {seen}")
                os.unlink(halt)
                time.sleep(0.3)  # the library looks at the file every 100 ms
                seen = self.work(p, 20)
                mctest.check(seen == (20, 0, 0), f"injecting again once it is gone: {seen}")
        finally:
            self.finish(p)
        took = time.monotonic() - t0
        mctest.check(took < REFUSED_BOUND_S, f"done in {took:.1f} s (< {REFUSED_BOUND_S} s)")

    def check_whole_lines(self, path, fig):
        lines = mctest.read_log(path, mctest.fail, rule_sets=True)
        mctest.check(all(l.get("rule") == "eio" or l.get("event") == "rules" for l in lines),
                     f"{len(lines)} whole lines")
        if fig:
            mctest.check(len(lines) == fig["events_logged"],
                         f"lines in the log {len(lines)} == events_logged "
                         f"{fig['events_logged']}")

    def case_log_full(self):
        if os.geteuid() != 0:
            mctest.skip("log-full needs root to mount a tiny tmpfs")
        mnt = os.path.join(self.tmp, "full")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k,mode=0700", "tmpfs", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if m.returncode != 0:
            mctest.skip(f"cannot mount a tmpfs for log-full: {m.stdout.strip()}")
        try:
            p, fig, _ = self.dropped_case(os.path.join(mnt, "hd-%p.jsonl"), 500)
            self.check_whole_lines(os.path.join(mnt, f"hd-{p.pid}.jsonl"), fig)
        finally:
            subprocess.run(["umount", "-l", mnt])

    def case_log_fsize(self):
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        p, fig, _ = self.dropped_case(log, 1000, preexec_fn=limit)
        self.check_whole_lines(log.replace("%p", str(p.pid)), fig)

    def case_fsize_start(self):
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))
        self.write_config(os.path.join(self.tmp, "hd-%p.jsonl"))
        p = self.start(self.host("serve", self.data), preexec_fn=limit)
        try:
            if mctest.check(p.wait_line("ready", DEADLINE_S) is not None,
                            "host started under RLIMIT_FSIZE = 16 KiB"):
                seen = self.work(p, 20)
                mctest.check(seen == (20, 0, 0), f"host works and faults act: {seen}")
        finally:
            self.finish(p)

    def case_shm_unavailable(self):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            mctest.skip("shm-unavailable needs root and unshare(1) for a mount namespace")
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                "mount -t tmpfs -o ro,size=64k tmpfs /dev/shm"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if probe.returncode != 0:
            mctest.skip(f"cannot make /dev/shm read-only in a mount namespace: "
                        f"{probe.stdout.strip()}")
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        self.write_config(log)
        env = self.env()
        # Only the host gets the library: unshare, sh and mount run without it.
        env["HD_PRELOAD"] = env.pop("LD_PRELOAD")
        env["HD_CONFIG"] = env.pop("MLCHAOS_CONFIG")
        script = ('mount -t tmpfs -o ro,size=64k tmpfs /dev/shm && '
                  'exec env LD_PRELOAD="$HD_PRELOAD" MLCHAOS_CONFIG="$HD_CONFIG" "$@"')
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                self.a.host, "serve", self.data]
        p = self.start(argv, env=env)
        try:
            line = p.wait_line("ready", DEADLINE_S)
            if mctest.check(line is not None, "host ready in its namespace"):
                pid = int(line.split()[1])
                seen = self.work(p, 100)
                mctest.check(seen == (100, 0, 0), f"faults injected without a segment: {seen}")
                mctest.check(mctest.shm(self.a.shm_tool, pid) is None,
                             f"no segment of {pid} in /dev/shm")
        finally:
            self.finish(p)
        if line:
            lines = mctest.read_log(log.replace("%p", str(pid)), mctest.fail)
            mctest.check(len(lines) == 100, f"every fault logged: {len(lines)} lines")

    def reload(self, pid):
        """Asks a reload through the segment (hd-shm --reload) in the background."""
        return subprocess.Popen([self.a.shm_tool, "--reload", str(pid), str(DEADLINE_S * 1000)],
                                stdout=subprocess.PIPE, text=True)

    def case_config_deleted(self):
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        self.write_config(log)
        p = self.start(self.host("serve", self.data))
        try:
            if not mctest.check(p.wait_line("ready", DEADLINE_S) is not None, "host ready"):
                return
            mctest.check(self.work(p, 20) == (20, 0, 0), "20 faults before")
            os.unlink(self.config)
            # The reload runs at the host's next hooked call: ask, then make it work.
            r = self.reload(p.pid)
            wait_requested(self.a.shm_tool, p.pid)
            seen = self.work(p, 20)
            out, _ = r.communicate(timeout=DEADLINE_S)
            print(f"reload with the config deleted: {out.strip()}")
            res = parse_json(out)
            mctest.check(res.get("done") is True, "the library answered the reload")
            mctest.check(res.get("status", 0) < 0, f"reload failed: status {res.get('status')}")
            mctest.check(self.config in res.get("message", ""),
                         "the reload message names the config")
            mctest.check(seen == (20, 0, 0), f"the old rules still act: {seen}")
            # A new valid config: the next reload takes it.
            with open(self.config, "w") as f:
                f.write(CONFIG.format(log=log, data=DATA).replace("errno = EIO",
                                                                  "errno = EINTR"))
            r = self.reload(p.pid)
            wait_requested(self.a.shm_tool, p.pid)
            seen = self.work(p, 20)
            out, _ = r.communicate(timeout=DEADLINE_S)
            res = parse_json(out)
            mctest.check(res.get("status") == 0, f"reload of a new config: {out.strip()}")
            mctest.check(seen == (0, 20, 0), f"the new rule (EINTR) acts: {seen}")
        finally:
            self.finish(p)
        lines = mctest.read_log(log.replace("%p", str(p.pid)), mctest.fail)
        mctest.check(len(lines) == 60, f"60 faults, {len(lines)} log lines")

    def case_reload_self(self):
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        self.write_config(log, mctest.SELF_RULES)
        p = self.start(self.host("serve", self.data))
        try:
            if not mctest.check(p.wait_line("ready", DEADLINE_S) is not None, "host ready"):
                return
            mctest.check(self.work(p, 20) == (20, 0, 0), "20 faults before")
            for n in range(1, 4):
                # The reload runs inside one of the host's reads, which the eio rule fails:
                # the host must still see EIO (errno is the host's, not the parser's).
                r = self.reload(p.pid)
                wait_requested(self.a.shm_tool, p.pid)
                seen = self.work(p, 20)
                out, _ = r.communicate(timeout=DEADLINE_S)
                res = parse_json(out)
                mctest.check(res.get("done") is True and res.get("status") == 0,
                             f"reload {n} accepted: {out.strip()}")
                mctest.check(seen == (20, 0, 0), f"reload {n}: the host's reads still see "
                                                 f"EIO: {seen}")
        finally:
            self.finish(p)
        lines = mctest.read_log(log.replace("%p", str(p.pid)), mctest.fail, rule_sets=True)
        rule_sets = [l for l in lines if l.get("event") == "rules"]
        mctest.check(len(rule_sets) == 4, f"4 rule-set lines (start, 3 reloads): "
                                          f"{len(rule_sets)}")
        mine = [l for l in lines if l.get("rule") in ("config-read", "config-open", "parser-malloc")]
        mctest.check(not mine, f"no fault on the library's own work: {mine[:3]}")
        mctest.check(len(lines) - len(rule_sets) == 80, f"80 faults on the host's reads, "
                                                        f"{len(lines) - len(rule_sets)} lines")

    def case_fork(self):
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        self.write_config(log, MALLOC_RULE)
        k, m = 20, 50
        p = self.start(self.host("fork", self.data, str(k), str(m)))
        rc = p.wait(DEADLINE_S * 2)
        mctest.check(rc is not None, "no deadlock: the host and its children finished")
        self.finish(p)
        out = p.stdout()
        mctest.check(f"children {k} ok {k}" in out, f"every child saw its {m} faults")
        children = [int(l.split()[1]) for l in out.splitlines() if l.startswith("child ")]
        parent = mctest.read_log(log.replace("%p", str(p.pid)), mctest.fail)
        mctest.check(parent and all(l["pid"] == p.pid for l in parent),
                     f"the parent's log: {len(parent)} whole lines, all its own")
        if self.a.sanitize:
            print("malloc-half: not reached under ASan, whose allocator comes first")
        else:
            mctest.check(any(l["rule"] == "malloc-half" for l in parent),
                         "the parent's thread logged from inside malloc too")
        bad = []
        for pid in children:
            lines = mctest.read_log(log.replace("%p", str(pid)), mctest.fail)
            if len(lines) != m or any(l["pid"] != pid or l["rule"] != "eio" for l in lines):
                bad.append((pid, len(lines)))
            if os.path.exists(f"/dev/shm/mlchaos.{pid}"):
                bad.append((pid, "segment left"))
        mctest.check(len(children) == k and not bad,
                     f"{len(children)} children, each with its own log of {m} lines and no "
                     f"segment left: {bad or 'all'}")

    def case_exec(self):
        log = os.path.join(self.tmp, "hd-%p.jsonl")
        self.write_config(log)
        for mode, want in (("clean", "probe: library absent, seen 0 0 20"),
                           ("keep", "probe: library mapped, seen 20 0 0")):
            p = self.start(self.host("exec", self.data, mode), name=mode)
            rc = p.wait(DEADLINE_S)
            self.finish(p, f"exec {mode}")
            out = p.stdout()
            print(out)
            mctest.check("before exec: seen 20 0 0" in out, f"{mode}: faults before exec")
            mctest.check(want in out, f"{mode}: after exec, '{want}'")
            lines = mctest.read_log(log.replace("%p", str(p.pid)), mctest.fail)
            n = 20 if mode == "clean" else 40
            mctest.check(len(lines) == n, f"{mode}: {len(lines)} log lines == {n}")
            left = os.path.exists(f"/dev/shm/mlchaos.{p.pid}")
            if mode == "keep":
                mctest.check(not left, "keep: no segment left after the new image's exit")
            elif left:
                # The image that exec replaced never ran its exit path: its segment stays
                # until `mlchaos` commands clean stale segments (shim/cli/segments.c).
                print(f"note: clean: the pre-exec segment /dev/shm/mlchaos.{p.pid} is left "
                      "for the command's stale-segment cleaning")
                os.unlink(f"/dev/shm/mlchaos.{p.pid}")
            mctest.check(rc == 0, f"{mode}: exit status {rc}")


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return {}


def wait_requested(tool, pid):
    """Until the segment shows the reload request (hd-shm --reload has written it)."""
    def asked():
        fig = mctest.shm(tool, pid)
        return fig and fig["reload_requested"] != fig["reload_done"]
    mctest.poll(asked, 10)


CASES = {
    "log-missing": Case.case_log_missing,
    "log-full": Case.case_log_full,
    "log-fsize": Case.case_log_fsize,
    "fsize-start": Case.case_fsize_start,
    "shm-unavailable": Case.case_shm_unavailable,
    "config-deleted": Case.case_config_deleted,
    "reload-self": Case.case_reload_self,
    "fork": Case.case_fork,
    "exec": Case.case_exec,
    "log-fifo": Case.case_log_fifo,
    "log-symlink": Case.case_log_symlink,
    "log-other-user": Case.case_log_other_user,
    "log-open-mode": Case.case_log_open_mode,
    "log-device": Case.case_log_device,
    "halt-planted": Case.case_halt_planted,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--shm-tool", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    ap.add_argument("--preload-before", default="")
    ap.add_argument("--sanitize", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix=f"mlchaos-hd-{a.case}-")
    try:
        case = Case(a, tmp)
        CASES[a.case](case)
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
