"""`make run` (python -m demo) end to end, as a newcomer runs it: the demo crashes are read
by `coresnap inspect`, go through the real host pipeline into a real coronerd, are grouped and
classified there, each new group sends a message to the local receiver, the console URL and its
user are printed, and the kernel's core_pattern is put back."""

from __future__ import annotations

import subprocess
import sys

from tests.crashes import read_core_pattern
from tests.paths import ROOT


def test_make_run_shows_the_whole_pipeline() -> None:
    before = read_core_pattern()
    done = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert read_core_pattern() == before
    # The core reader on the demo cores (the first half).
    assert "SIGSEGV" in out and "sum_list" in out
    # The store groups and classifies them.
    assert "use-after-free" in out and "null-deref" in out
    listing = out[out.index("coroner list blackhole") :]
    assert listing.count("Occurrences: 1") == 2
    # One message per new group and target, linking to the console.
    alerts = out[out.index("alerts: what the local receiver got") :]
    messages = [line for line in alerts.splitlines() if line.startswith("[new-group] blackhole ")]
    assert len(messages) == 2, alerts[:2000]
    assert all("/p/blackhole/g/" in line for line in messages)
    assert len({line.split()[2] for line in messages}) == 2  # two groups, one message each
    assert "sign in as  demo / coresnap-demo" in out
