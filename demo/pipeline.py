"""The whole host pipeline, for real, in a temporary dump root (the second half of `make run`).

coronerd (SQLite, loopback) is the store; ``coresnap install`` points kernel.core_pattern at
coresnap-archive; coresnapd snapshots each dump and puts it with ``coroner put``; the demo
programs crash; ``coresnap list``, the snapshots and ``coroner list`` show the result. On exit,
on an error and on Ctrl-C the machine is put back: daemons stopped, ``coresnap uninstall``
(the previous core_pattern and core_pipe_limit), temporary files removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from coresnap.cli.coresnap import main as coresnap_main
from coresnap.store.alerts import listen

BIN = Path(sys.executable).parent
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
PIPE_LIMIT = Path("/proc/sys/kernel/core_pipe_limit")
# The test suite's core_pattern lock (tests/crashes.py): no test crashes while we hold it.
LOCK = Path("/tmp/coresnap-tests-core-pattern.lock")
# The console user `make run` creates (an admin of the throwaway demo store only).
PASSWORD = "coresnap-demo"


def _say(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _store(work: Path, receiver: str) -> tuple[list[str], Path]:
    """Create a coronerd config, project ``blackhole`` and its token, and a webhook alert
    target aimed at the local ``receiver``; (serve argv, coroner.cf)."""
    toml = work / "coronerd.toml"
    coronerd = [str(BIN / "coronerd"), "-c", str(toml)]
    _run(*coronerd, "init", "--database", f"sqlite:///{work / 'store.db'}",
         "--blobs", str(work / "blobs"))  # fmt: skip
    _run(*coronerd, "project", "create", "blackhole")
    port = _free_port()
    # Links in the messages lead to this demo's console.
    console = f'url = "http://127.0.0.1:{port}"'
    toml.write_text(re.sub(r'(\[console\]\n(?:#.*\n)*)url = ""', rf"\1{console}", toml.read_text()))
    with toml.open("a") as f:
        f.write(
            f'\n[[alerts]]\nproject = "blackhole"\nname = "hook"\nkind = "webhook"\n'
            f'url = "{receiver}"\nevents = ["new-group"]\n'
        )
    token = _run(*coronerd, "token", "create", "--scope", "submit,read", "blackhole", "blackhole")
    (work / "password").write_text(PASSWORD + "\n")
    _run(*coronerd, "user", "create", "--admin", "--password-file", str(work / "password"), "demo")
    cf = work / "coroner.cf"
    cf.write_text(f"[universe]\nname = demo\nwrite = http://127.0.0.1:{port}\n"
                  f"read = 127.0.0.1:{port}\nread.ssl.enabled = false\n"
                  f"[token]\nblackhole = {token.split()[-1]}\n")  # fmt: skip
    return [*coronerd, "serve", "--port", str(port)], cf


def _wait(predicate, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo: timed out waiting for {what}")
        time.sleep(0.1)


def _crash(exe: Path) -> None:
    def unlimited() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    proc = subprocess.run([str(exe)], preexec_fn=unlimited, capture_output=True, timeout=60)
    print(f"$ ./{exe.name}\n{signal.Signals(-proc.returncode).name} (core dumped)", flush=True)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(programs: list[Path]) -> int:
    """Show the host pipeline on ``programs`` (executables that crash). Needs root."""
    if os.geteuid() != 0:
        print("demo: the host pipeline needs root (it sets kernel.core_pattern); skipped")
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="cs-demo-", dir="/tmp"))  # short: core_pattern < 128
    dumps, conf = work / "d", work / "c"
    LOCK.touch(exist_ok=True)
    with open(LOCK) as lock, contextlib.ExitStack() as stack:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = CORE_PATTERN.read_text(), PIPE_LIMIT.read_text()
        try:
            alerts = io.StringIO()
            receiver = listen.server("127.0.0.1", 0, alerts)
            threading.Thread(target=receiver.serve_forever, daemon=True).start()
            stack.callback(receiver.server_close)
            stack.callback(receiver.shutdown)
            serve, cf = _store(work, f"http://127.0.0.1:{receiver.server_address[1]}/")
            conf.write_text(f"dump.root = {dumps}\nlog.file = {work / 'coresnap.log'}\n"
                            f"coroner.config = {cf}\ndump.user = root\ndump.group = root\n")  # fmt: skip
            with _process(serve, work / "coronerd.log"):
                try:
                    code = _show(programs, dumps, conf, cf, work)
                    _alerts(alerts, len(programs))
                finally:
                    _restore(dumps, conf, work, saved)  # before the store's slower shutdown
                fcntl.flock(lock, fcntl.LOCK_UN)  # the kernel is back: tests may crash again
                _console(serve[-1])
                return code
        except KeyboardInterrupt:
            print("\ndemo: interrupted; putting the machine back", flush=True)
            return 130
        finally:
            _restore(dumps, conf, work, saved)
            shutil.rmtree(work, ignore_errors=True)


def _alerts(received: io.StringIO, groups: int) -> None:
    """Show what the local receiver (``python -m coresnap.store.alerts.listen``) printed: one
    message per new group, with its console link."""
    _say(
        "alerts: what the local receiver got (python -m coresnap.store.alerts.listen; docs/alerts.md)"
    )
    _wait(lambda: received.getvalue().count("\n") >= groups, 60, "an alert per new group")
    print(received.getvalue(), end="", flush=True)


def _console(port: str) -> None:
    """Print the console's URL and user; at a terminal, serve it until Enter or Ctrl-C."""
    _say("the web console (docs/console.md)")
    print(f"open http://127.0.0.1:{port}/  and sign in as  demo / {PASSWORD}", flush=True)
    if sys.stdin.isatty():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # _restore ignored it
        with contextlib.suppress(KeyboardInterrupt, EOFError):
            input("(coronerd serves the console until you press Enter or Ctrl-C) ")


def _restore(dumps: Path, conf: Path, work: Path, saved: tuple[str, str]) -> None:
    """Put the kernel back (idempotent); a second Ctrl-C must not cut this short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if (dumps / "previous-core-pattern.json").exists():
        coresnap_main(["uninstall", "-c", str(conf), "--sysctl-file", str(work / "none")])
    if (CORE_PATTERN.read_text(), PIPE_LIMIT.read_text()) != saved:
        CORE_PATTERN.write_text(saved[0])
        PIPE_LIMIT.write_text(saved[1])
        print(f"(kernel.core_pattern restored: {saved[0].strip()!r})")


def _show(programs: list[Path], dumps: Path, conf: Path, cf: Path, work: Path) -> int:
    _say("coresnap install: the kernel pipes every core to coresnap-archive")
    coresnap_main(["install", "-c", str(conf), "--no-sysctl-file"])
    with _process([str(BIN / "coresnapd"), "-c", str(conf)], work / "coresnapd.out"):
        _wait(lambda: (dumps / "coresnapd.lock").exists(), 30, "coresnapd")
        _say("crash the demo programs")
        for exe in programs:
            _crash(exe)
        _wait(lambda: len(list((dumps / "committed").iterdir())) >= len(programs), 120,
              "the dumps to reach committed/")  # fmt: skip
        _say("syslog (coresnap-archive and coresnapd)")
        for line in (work / "coresnap.log").read_text().splitlines():
            if "running" in line or "archived" in line or "processed" in line or "crash of" in line:
                print(line[:160])
        _say("coresnap list -a")
        coresnap_main(["list", "-a", "-c", str(conf)])
    for snapshot in sorted((dumps / "committed").iterdir()):
        _say(f"coresnap view committed/{snapshot.name}")
        coresnap_main(["view", str(snapshot)])
    _say("coroner list blackhole -R -H5 -i1 (the store)")
    subprocess.run([str(BIN / "coroner"), "-c", str(cf), "list", "blackhole", "-R", "-H", "5",
                    "-i", "1"], check=False)  # fmt: skip
    _say("coresnap uninstall: the previous core_pattern comes back")
    return 0
