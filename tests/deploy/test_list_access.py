"""``coresnap list`` as a user who may not read the dump root (install --system makes it 0750,
owned by coresnap) says so and exits 1, without a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.mark.skipif(sys.platform != "linux", reason="setpriv")
def test_an_unreadable_dump_root_is_named() -> None:
    top = Path(tempfile.mkdtemp(prefix="cs-access-", dir="/tmp"))  # nobody may look in /tmp/…
    try:
        top.chmod(0o755)
        root = top / "archive"
        root.mkdir(mode=0o700)
        _refused(root)
    finally:
        shutil.rmtree(top)


def _refused(root: Path) -> None:
    done = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, "-m", "coresnap.cli.coresnap", "list", "-r", str(root)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr == (f"coresnap list: cannot read {root}: run as root or as a member of "
                           "dump.group\n")  # fmt: skip
