"""packaging/freebsd: the rc.d script (parsed, and run against a small rc.subr stand-in that
records what run_rc_command gets) and the devd rule (parsed, and its action accepted by
``coresnap devd-core``). FreeBSD's own rc.subr and devd are not available here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from coresnap.cli.coresnap import build_parser
from tests.kernel.kernel_samples import Variant, write_textdump

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "freebsd"
RC = PACKAGING / "rc.d" / "coresnapd"
DEVD = PACKAGING / "devd" / "coresnap.conf"
VENV = Path(sys.executable).parent.parent

# What rc.subr(8) gives a script, reduced to what this test observes: checkyesno's answers and
# the variables run_rc_command reads; "start" runs start_precmd as rc.subr does.
RC_SUBR = r"""
load_rc_config() { :; }
checkyesno() {
	eval _value=\$${1}
	case $_value in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;; *) return 1 ;; esac
}
run_rc_command() {
	for v in name rcvar desc pidfile command command_args start_precmd; do
		eval echo "$v=\$$v"
	done
	eval echo "enable=\$${rcvar}"
	if [ "$1" = start ] && [ -n "$start_precmd" ]; then $start_precmd || exit 1; fi
}
"""


def test_rc_script_parses_and_has_rcorder_headers() -> None:
    subprocess.run(["sh", "-n", str(RC)], check=True)
    text = RC.read_text()
    headers = dict(re.findall(r"^# (PROVIDE|REQUIRE|BEFORE|KEYWORD): (.*)$", text, re.M))
    assert headers["PROVIDE"] == "coresnapd"
    assert {"LOGIN", "savecore"} <= set(headers["REQUIRE"].split())  # after savecore/crashinfo
    assert "shutdown" in headers["KEYWORD"].split()
    assert text.startswith("#!/bin/sh\n") and ". /etc/rc.subr" in text
    assert 'run_rc_command "$1"' in text.splitlines()[-1]


def run_rc(tmp_path: Path, action: str, **env: str) -> dict[str, str]:
    subr = tmp_path / "rc.subr"
    subr.write_text(RC_SUBR)
    script = tmp_path / "coresnapd"
    script.write_text(RC.read_text().replace(". /etc/rc.subr", f". {subr}"))
    out = subprocess.run(["sh", str(script), action], capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], **env}, timeout=60)  # fmt: skip
    (tmp_path / "rc.stderr").write_text(out.stderr)
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_rc_script_defines_what_rc_subr_reads(tmp_path: Path) -> None:
    got = run_rc(tmp_path, "status")
    assert got["name"] == "coresnapd" and got["rcvar"] == "coresnapd_enable"
    assert got["enable"] == "NO"  # off until rc.conf says coresnapd_enable="YES"
    assert got["pidfile"] == "/var/run/coresnapd.pid" and got["command"] == "/usr/sbin/daemon"
    args = got["command_args"].split()
    assert args[:2] == ["-P", got["pidfile"]] and "-r" in args and "-S" in args
    assert args[args.index("-u") + 1] == "coresnap"
    assert args[args.index("-u") + 2] == "/usr/local/bin/coresnapd" and "-c" not in args
    got = run_rc(tmp_path, "status", coresnapd_enable="YES", coresnapd_user="crash",
                 coresnapd_config="/usr/local/etc/coresnap/coresnap.conf",
                 coresnapd_flags="-r /var/dumps")  # fmt: skip
    args = got["command_args"].split()
    assert got["enable"] == "YES" and args[args.index("-u") + 1] == "crash"
    assert args[-4:] == ["-c", "/usr/local/etc/coresnap/coresnap.conf", "-r", "/var/dumps"]


def test_rc_start_imports_kernel_dumps(tmp_path: Path) -> None:
    """``service coresnapd start`` first spools what savecore left in ${dumpdir}, for real."""
    crash, root = tmp_path / "crash", tmp_path / "dumps"
    write_textdump(crash, 0, Variant())
    old = 1_700_000_000
    for p in crash.iterdir():
        os.utime(p, (old, old))
    conf = tmp_path / "coresnap.conf"
    conf.write_text(f"dump.root = {root}\ndump.quota = 1\n")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    run_rc(tmp_path, "start", coresnapd_enable="YES", coresnapd_prefix=str(VENV),
           coresnapd_config=str(conf), dumpdir=str(crash), coresnapd_incoming=str(incoming))  # fmt: skip
    assert len(os.listdir(root / "pending")) == 1 and sorted(os.listdir(crash)) == ["bounds"]
    assert "cannot sweep" not in (tmp_path / "rc.stderr").read_text()  # the sweep ran, found none
    run_rc(tmp_path, "start", coresnapd_kernel_dumps="NO", coresnapd_prefix="/nonexistent",
           dumpdir=str(crash))  # fmt: skip


def parse_devd(text: str) -> list[tuple[str, int, list[list[str]]]]:
    """devd.conf(5) statements as (kind, priority, [[sub-statement words]]); comments dropped."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    found = []
    for m in re.finditer(r"(\w+)\s+(\d+)\s*\{(.*?)\};", body, re.S):
        subs = [shlex.split(s) for s in m.group(3).split(";") if s.strip()]
        found.append((m.group(1), int(m.group(2)), subs))
    rest = re.sub(r"(\w+)\s+(\d+)\s*\{(.*?)\};", "", body, flags=re.S)
    assert not rest.strip(), f"unparsed devd text: {rest.strip()[:200]}"
    return found


def test_devd_rule_matches_the_coredump_event_and_runs_the_companion() -> None:
    [(kind, priority, subs)] = parse_devd(DEVD.read_text())
    assert kind == "notify" and priority >= 0
    matches = {s[1]: s[2] for s in subs if s[0] == "match"}
    assert matches == {"system": "kernel", "subsystem": "signal", "type": "coredump"}
    [action] = [s[1] for s in subs if s[0] == "action"]
    assert "$comm" not in action  # the executable's name is chosen by users: not through a shell
    argv = shlex.split(action.replace("$core", "/var/coresnap/incoming/4242.core"))
    assert argv[:2] == ["/usr/sbin/daemon", "-f"]  # detached: devd waits for its actions
    assert argv[2] == "/usr/local/bin/coresnap" and argv[3] == "devd-core"
    args = build_parser().parse_args(argv[3:])
    assert args.core == "/var/coresnap/incoming/4242.core" and args.exe is None
