#!/usr/bin/python3
"""mlchaos(1) and mlchaos.ini(5) cannot drift from the code: every command of `mlchaos --help`
has its section in mlchaos(1), holding every option its --help names (and no option that
--help does not); every key of the config language (config/keys.c, config/reference.ini) and
of experiment files (shim/cli/experiment/experiment_spec.c: keys per section, metrics) is described in
mlchaos.ini(5), in its own section. Both pages must also format without a groff warning.

    manpages.py --mlchaos BIN --source DIR
"""

import argparse
import re
import shutil
import subprocess
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish  # noqa: E402

# Keys of the experiment's load and health checks, as the load client's interface names them:
# the page documents them even while the spec's tables do not list them yet.
INTERFACE_KEYS = {
    "load": ["requests_file", "answer", "tolerance", "protocol", "stream", "model", "id_header"],
    "health": ["url", "interval"],
    "steady_state": ["agreement", "contaminated", "health_lies", "ttft_p50", "ttft_p99",
                     "itl_p50", "itl_p99"],
}

def plain(roff):
    """The page's text with font escapes gone and \\- as -."""
    text = re.sub(r"\\f[BIRP]", "", roff)
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\(dq", '"')


def sections(text, macro):
    """{title: body} for each `.SH` or `.SS` title (quotes dropped). A .SH body holds its
    subsections; a .SS body ends at the next heading of either kind."""
    out = {}
    ends = "SH" if macro == "SH" else "S[HS]"
    parts = re.split(r"(?m)^\.(%s) (.*)$" % ends, text)
    for kind, title, body in zip(parts[1::3], parts[2::3], parts[3::3]):
        if kind == macro:
            out[title.strip().strip('"')] = body
    return out


def tags(body):
    """The words of the tag lines of .TP paragraphs: where a key is named."""
    words = set()
    lines = body.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", lines[i + 1]))
    return words


# ---- mlchaos(1) against --help ----

def run_help(mlchaos, *cmd):
    out = subprocess.run([mlchaos] + list(cmd) + ["--help"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    check(out.returncode == 0, "%s --help exited %d" % (" ".join(cmd), out.returncode))
    return out.stdout


def options_of(help_text):
    """The options a --help names: long ones anywhere, short ones on option lines."""
    longs = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))
    shorts = set()
    for line in help_text.splitlines():
        if re.match(r"\s*-[a-zA-Z][ ,]", line) or line.startswith("usage:"):
            shorts |= set(re.findall(r"(?<![\w-])(-[a-zA-Z])\b", line))
    return longs | shorts


def commands_of(top_help):
    block = top_help.split("commands:", 1)[1].split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"(?m)^  ([a-z]+) ", block)]


def check_command_page(mlchaos, page):
    text = plain(page)
    top = run_help(mlchaos)
    commands = commands_of(top)
    check(len(commands) >= 13, "commands found in mlchaos --help: %s" % commands)
    subs = {title.split()[1]: body for title, body in sections(text, "SS").items()
            if title.startswith("mlchaos ")}
    for cmd in commands:
        if cmd not in subs:
            check(False, "mlchaos(1) has no section for 'mlchaos %s'" % cmd)
            continue
        title = next(t for t in sections(text, "SS") if t.split()[1:2] == [cmd])
        section = title + "\n" + subs[cmd]
        helped = options_of(run_help(mlchaos, cmd))
        for opt in sorted(helped):
            check(re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), section),
                  "mlchaos(1), 'mlchaos %s': option %s of --help is not described"
                  % (cmd, opt))
        for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", section))):
            check(opt in helped, "mlchaos(1), 'mlchaos %s': %s is not in its --help"
                  % (cmd, opt))
    for extra in sorted(set(subs) - set(commands)):
        check(False, "mlchaos(1) describes 'mlchaos %s', which mlchaos --help does not list"
              % extra)
    general = sections(text, "SH").get("OPTIONS", "")
    for opt in options_of(top):
        check(opt in general, "mlchaos(1) OPTIONS: %s of mlchaos --help is missing" % opt)


# ---- mlchaos.ini(5) against the code ----

def table_keys(path, pattern):
    return re.findall(pattern, open(path).read())


def check_config_page(source, page):
    text = plain(page)
    top = sections(text, "SH")
    sub = sections(text, "SS")
    glob_sec = next((b for t, b in top.items() if t.startswith("[mlchaos]")), "")
    rule_sec = next((b for t, b in top.items() if t.startswith("[fault.")), "")
    keys_c = source + "/config/keys.c"
    global_keys = table_keys(keys_c, r'\[MC_GKEY_\w+\]\s*=\s*\{\s*"(\w+)"')
    rule_keys = table_keys(keys_c, r'\[MC_RKEY_\w+\]\s*=\s*\{\s*"(\w+)"')
    check(len(global_keys) >= 10 and len(rule_keys) >= 30,
          "key tables of config/keys.c: %d global, %d rule" % (len(global_keys), len(rule_keys)))
    for key in global_keys:
        check(key in tags(glob_sec), "mlchaos.ini(5) [mlchaos]: key %s is not described" % key)
    for key in rule_keys:
        check(key in tags(rule_sec), "mlchaos.ini(5) [fault.NAME]: key %s is not described"
              % key)
    # reference.ini: every key it sets, in the section it sets it in
    section = None
    for line in open(source + "/config/reference.ini"):
        m = re.match(r"\[(\w+)", line)
        if m:
            section = m.group(1)
        m = re.match(r"([a-z_]+)\s*=", line)
        if m and section:
            where = glob_sec if section == "mlchaos" else rule_sec
            check(m.group(1) in tags(where), "mlchaos.ini(5): key %s of reference.ini [%s] "
                  "is not described" % (m.group(1), section))
    spec = source + "/shim/cli/experiment/experiment_spec.c"
    by_section = {}
    for key, sec in table_keys(spec, r'\[K_\w+\]\s*=\s*\{\s*"(\w+)",\s*SEC_(\w+)\s*\}'):
        by_section.setdefault(sec.lower(), []).append(key)
    metrics = table_keys(spec, r'\[MC_EXP_\w+\]\s*=\s*\{\s*"(\w+)",\s*MC_EXP_KIND_')
    check(len(by_section.get("experiment", [])) >= 9 and len(metrics) >= 12,
          "tables of experiment_spec.c: %s, metrics %s" % (by_section, metrics))
    by_section.setdefault("steady_state", []).extend(metrics)
    for sec, keys in INTERFACE_KEYS.items():
        by_section.setdefault(sec, []).extend(keys)
    for sec, keys in by_section.items():
        body = sub.get("[%s]" % sec)
        if body is None:
            check(False, "mlchaos.ini(5) has no section [%s]" % sec)
            continue
        for key in keys:
            check(key in tags(body), "mlchaos.ini(5) [%s]: key %s is not described"
                  % (sec, key))


def check_format(path):
    groff = shutil.which("groff")
    if not groff:
        return
    out = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    check(out.returncode == 0 and not out.stdout.strip(), "%s: groff says %s"
          % (path, out.stdout.strip()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    cmd_page = args.source + "/shim/cli/mlchaos.1"
    cfg_page = args.source + "/config/mlchaos.ini.5"
    check_command_page(args.mlchaos, open(cmd_page).read())
    check_config_page(args.source, open(cfg_page).read())
    check_format(cmd_page)
    check_format(cfg_page)
    return finish("mlchaos(1) and mlchaos.ini(5) against --help and the key tables")


if __name__ == "__main__":
    sys.exit(main())
