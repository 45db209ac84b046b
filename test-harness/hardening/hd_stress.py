#!/usr/bin/python3
"""Stress with rules armed: 8 threads of mixed hooked calls under several select = call rules
(rates 1-10 %) and a log, plain, under TSan (--tsan) or ASan+UBSan (--sanitize); with
--reloads MS, the config is reloaded again and again (MS apart) while the threads run.

The program (hd_stress.c) survives every injected fault and counts what it saw by kind; at
the end it waits on stdin, and the segment /dev/shm/mlchaos.<pid> is read while it lives.
Checks: exit 0, no sanitizer report; the log's line count equals the sum over rules of
engine.rule[i].injected and the segment's events_logged, with nothing dropped; each rule's
injected count equals what the program saw (exactly, where only the program's calls can
match), every line parses and names a rule of the config.

With --reloads, three more rules would fail the library's own work if the rules ever decided
on it: reads and opens of *.ini files (the config a reload parses) and allocations of 4097
bytes (the parser's first buffer). Checks: every reload answered is accepted, one rule-set
line per accepted reload, no fault line on the config; since a reload starts the counters
anew, the program's counts are compared with the log's applied lines, not the segment.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

CONFIG = """\
[mlchaos]
seed = 7
request_key = none
log = {log}

[fault.read-eio]
hook = read
action = fail
errno = EIO
path = */hd-stress-data.bin
rate = 2%
select = call

[fault.read-short]
hook = read
action = short
max_bytes = 1
path = */hd-stress-data.bin
rate = 5%
select = call

[fault.open-enoent]
hook = open
action = fail
errno = ENOENT
path = */hd-stress-data.bin
rate = 3%
select = call

[fault.mmap-enomem]
hook = mmap
action = fail
min_size = 4KiB
max_size = 32KiB
rate = 5%
select = call

[fault.malloc-enomem]
hook = malloc
action = fail
min_size = 2KiB
max_size = 16KiB
rate = 1%
select = call

[fault.send-short]
hook = send
action = short
max_bytes = 64
rate = 10%
select = call

[fault.send-delay]
hook = send
action = delay
delay = 1us
rate = 1%
select = call
"""

# rule -> what the program counts for it, and whether only the program's calls can match
# (exact) or libc's own may too (malloc: stdio's buffer) or a fault may go unseen (a short
# send cut to the whole remainder).
EXPECT = {
    "read-eio": ("read_eio", "exact"),
    "read-short": ("read_short", "exact"),
    "open-enoent": ("open_enoent", "exact"),
    "mmap-enomem": ("mmap_enomem", "exact"),
    "malloc-enomem": ("malloc_null", "at-least"),
    "send-short": ("send_short", "at-least"),
}
# The program's calls take minutes under a sanitizer on a busy machine: it is waited for as
# long as it works, and a hang is a minute without CPU time; meson's timeout bounds the rest.
IDLE_S = 60


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--shm-tool", required=True)
    ap.add_argument("--prog", required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--preload-before", default="")
    ap.add_argument("--sanitize", action="store_true", help="ASan+UBSan build")
    ap.add_argument("--tsan", action="store_true")
    ap.add_argument("--reloads", type=int, default=0, metavar="MS",
                    help="reload the config again and again, MS apart, while the threads run")
    a = ap.parse_args()
    return mctest.in_tmpdir("mlchaos-hd-stress-", lambda tmp: run(a, tmp))


def run(a, tmp):
    log = os.path.join(tmp, "stress-%p.jsonl")
    cfg = os.path.join(tmp, "stress.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=log) + (mctest.SELF_RULES if a.reloads else ""))
    extra = {"LD_PRELOAD": mctest.preload(a.lib, a.preload_before), "MLCHAOS_CONFIG": cfg}
    if a.sanitize:
        extra.update(mctest.SANITIZER_ENV)
    if a.tsan:
        extra.update(mctest.TSAN_ENV)
    label = "tsan" if a.tsan else "asan+ubsan" if a.sanitize else "plain"
    argv = [a.prog, "-t", str(a.threads), "-n", str(a.calls),
            os.path.join(tmp, "hd-stress-data.bin")]
    print(f"{label}: {a.threads} threads x {a.calls} calls, 7 rules armed"
          + (f", a reload every {a.reloads} ms" if a.reloads else ""))
    p = mctest.Proc(argv, mctest.clean_env(extra), os.path.join(tmp, "stderr"),
                    stdin=subprocess.PIPE)
    reloader = None
    try:
        if a.reloads:
            reloader = start_reloads(a, p.pid)
        ready = p.wait_line_working("ready ", IDLE_S)
        reloads = stop_reloads(reloader) if reloader else None
        fig = mctest.shm(a.shm_tool, p.pid) if ready else None
        if ready:
            p.send(b"go\n")
        rc = p.wait(60)
    finally:
        if reloader and reloader.poll() is None:
            reloader.kill()
        rc2 = p.stop()
    rc = rc if rc is not None else rc2
    err = p.stderr()
    out = p.stdout()
    print(out)
    if not mctest.check(ready is not None, "the program reached its end and waited"):
        print(err[-6000:], file=sys.stderr)
        return
    report = mctest.sanitizer_report(err)
    mctest.check(report is None, f"no sanitizer report ({report or 'none'})")
    if report or rc != 0:
        print(err[-12000:], file=sys.stderr)
    mctest.check(rc == 0, f"exit status {rc}")
    if not mctest.check(fig is not None, f"segment of pid {p.pid} read while it lived"):
        return
    seen = {}
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "seen":
            seen[w[1]] = int(w[2])
    lines = mctest.read_log(log.replace("%p", str(p.pid)), mctest.fail, rule_sets=True)
    if a.reloads:
        compare_reloaded(cfg, reloads, seen, lines)
    else:
        compare(a, fig, seen, lines)


def start_reloads(a, pid):
    """hd-shm --reloads on pid, once its segment exists (it is made before main runs)."""
    mctest.poll(lambda: os.path.exists(f"/dev/shm/mlchaos.{pid}"), 30)
    return subprocess.Popen([a.shm_tool, "--reloads", str(pid), str(a.reloads)],
                            stdout=subprocess.PIPE, text=True)


def stop_reloads(reloader):
    """Stops the reloads; their counts (asked, answered, accepted, first refusal)."""
    reloader.terminate()
    out, _ = reloader.communicate(timeout=90)
    try:
        return json.loads(out)
    except ValueError:
        return {"unreadable": out}


def compare_reloaded(cfg, reloads, seen, lines):
    print(f"reloads: {reloads}; program saw {seen}")
    answered = reloads.get("answered", 0)
    mctest.check(answered >= 10, f"{answered} reloads answered while the threads ran (>= 10)")
    mctest.check(reloads.get("accepted") == answered,
                 f"every reload accepted: {reloads.get('accepted')} of {answered} (first refusal: "
                 f"{reloads.get('first_status')} {reloads.get('first_message')!r})")
    # The reload asked last may be answered after the reloader stopped waiting for it (the
    # program's last calls): one rule-set line per accepted reload, and that one at most.
    rule_sets = [l for l in lines if l.get("event") == "rules"]
    accepted, pending = reloads.get("accepted", -1), reloads.get("asked", 0) - answered
    mctest.check(1 + accepted <= len(rule_sets) <= 1 + accepted + pending,
                 f"{len(rule_sets)} rule-set lines: 1 + {accepted} reloads accepted "
                 f"(+ {pending} answered after the count)")
    faults = [l for l in lines if l.get("event") != "rules"]
    on_config = [l for l in faults if os.path.basename(cfg) in json.dumps(l)]
    mctest.check(not on_config, f"no fault on the config the reloads read: {on_config[:3]}")
    applied = collections.Counter(l.get("rule") for l in faults if l.get("applied") is True)
    for rule, (kind, how) in EXPECT.items():
        want = applied[rule] + (applied["parser-malloc"] if rule == "malloc-enomem" else 0)
        got = seen.get(kind, -1)
        if how == "exact":
            mctest.check(got == want, f"{rule}: {want} applied lines, the program saw {got}")
        else:
            mctest.check(0 <= got <= want, f"{rule}: {want} applied lines >= the program saw {got}")


def compare(a, fig, seen, lines):
    inj = mctest.injected(fig)
    total = sum(inj.values())
    print(f"segment: {inj}; events_logged {fig['events_logged']}, dropped "
          f"{fig['events_dropped']}; program saw {seen}")
    mctest.check(fig["events_logged"] == len(lines), f"events_logged {fig['events_logged']} == "
                                                f"{len(lines)} lines in the log")
    mctest.check([l.get("event") for l in lines[:1]] == ["rules"], "the rule set's line first")
    lines = lines[1:]
    mctest.check(len(lines) == total, f"log lines {len(lines)} == sum of rules' injected {total}")
    mctest.check(fig["events_dropped"] == 0, f"events_dropped {fig['events_dropped']} == 0")
    by_rule = collections.Counter(l.get("rule") for l in lines)
    mctest.check(by_rule == collections.Counter({k: v for k, v in inj.items() if v}),
                 f"log lines per rule {dict(by_rule)} == injected per rule")
    mctest.check(all(l.get("event") == "fault" and l.get("applied") is True for l in lines),
                 "every line is an applied fault")
    for rule, (kind, how) in EXPECT.items():
        want, got = inj.get(rule, 0), seen.get(kind, -1)
        if how == "exact":
            mctest.check(got == want, f"{rule}: injected {want}, the program saw {got}")
        else:
            mctest.check(0 <= got <= want, f"{rule}: injected {want} >= the program saw {got}")
    # Every rule must have had its chance: with 8 x 1M calls at 1-10 %, none stays at 0
    # (except malloc under ASan or TSan: the sanitizer's runtime must be preloaded first, and
    # its allocator then serves the program's malloc calls before the library sees them).
    for rule in list(EXPECT) + ["send-delay"]:
        if rule == "malloc-enomem" and (a.sanitize or a.tsan):
            print("malloc-enomem: not reached under a sanitizer, whose allocator comes first")
            continue
        mctest.check(inj.get(rule, 0) > 0, f"{rule} injected at least once ({inj.get(rule, 0)})")


if __name__ == "__main__":
    sys.exit(main())
