"""The example of docs/privacy.md, made for real: privacy_leak crashed with the planted secrets
(plain kernel core), then ``coresnap snapshot --json`` and ``coresnap view`` under a
coresnap.conf that lists its ``-k`` option. ``python -m tests.privacy.docs_example`` prints it."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests import crashes
from tests.privacy.planted import FLAG_SETTING, args, environ

CONF = "".join(f"{k.replace('__', '.')} = {v}\n" for k, v in FLAG_SETTING.items())


def example(work: Path) -> tuple[dict, str]:
    """(the snapshot's privacy record without its config path, the view's summary lines)."""
    exe = crashes.build("privacy_leak.c")
    shutil.copy2(exe, work / "privacy_leak")
    with crashes.core_pattern(shared=True) as pattern:
        assert not pattern.startswith("|") and "/" not in pattern, pattern
        proc = subprocess.run(["./privacy_leak", *args()], cwd=work, env=environ(),
                              capture_output=True, timeout=60,
                              preexec_fn=lambda: resource.setrlimit(
                                  resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2))  # fmt: skip
    assert proc.returncode < 0
    core = next(p for p in work.iterdir() if p.name.startswith("core"))
    (work / "coresnap.conf").write_text(CONF)
    env = {"CORESNAP_CONF": str(work / "coresnap.conf"), "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "coresnap.cli.coresnap"]
    made = subprocess.run([*cli, "snapshot", str(core), str(work / "privacy_leak"), "-o",
                           str(work / "s.snap"), "--json"], env=env, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    record = json.loads(made.stdout)["privacy"]
    record.pop("config")
    view = subprocess.run([*cli, "view", str(work / "s.snap"), "--width", "100"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    lines = [line for line in view.stdout.splitlines()
             if "cmdline:" in line or "privacy:" in line or "<scrubbed>" in line]  # fmt: skip
    return record, "\n".join(lines)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        record, view = example(Path(tmp))
        print(json.dumps(record, indent=1))
        print(view)
