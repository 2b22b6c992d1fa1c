"""coresnap install / uninstall: the previous pattern comes back, whatever was there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.capture import install
from coresnap.cli.coresnap import main as coresnap_main
from tests import crashes
from tests.capture.hook import pipe_limit, short_dir

APPORT = "|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E"


@pytest.fixture
def root() -> Iterator[Path]:
    d = short_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_too_long_a_pattern_is_refused_before_touching_the_kernel() -> None:
    before = crashes.read_core_pattern()
    with pytest.raises(install.InstallError, match="128|127"):
        install.install("/tmp/" + "x" * 120, archive="/usr/bin/coresnap-archive", sysctl_file=None)
    assert crashes.read_core_pattern() == before


def test_other_handlers_are_recognised() -> None:
    assert install.other_handler(APPORT) == "apport"
    assert install.other_handler("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h") == (
        "systemd-coredump"
    )
    assert install.other_handler("|/usr/libexec/abrt-hook-ccpp %s %c %p %u %g %t e") == "abrt"
    assert install.other_handler("core") is None


def test_install_twice_then_uninstall_restores_the_original(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sysctl = root / "50-coresnap.conf"
    dumps = root / "d"
    with crashes.core_pattern(APPORT) as original, pipe_limit(3):
        args = ["-r", str(dumps), "--sysctl-file", str(sysctl)]
        assert coresnap_main(["install", *args]) == 0
        out = capsys.readouterr().out
        assert "apport owned core_pattern; to disable it: service apport stop" in out
        assert f"saved the previous core_pattern {APPORT!r}" in out
        assert install.is_ours(crashes.read_core_pattern())
        assert int(install.CORE_PIPE_LIMIT.read_text()) == install.PIPE_LIMIT
        assert sysctl.read_text().startswith(install.MARKER)
        assert coresnap_main(["install", *args]) == 0  # again: the original stays remembered
        assert "saved the previous" not in capsys.readouterr().out
        assert coresnap_main(["uninstall", *args]) == 0
        assert crashes.read_core_pattern() == APPORT
        assert install.CORE_PIPE_LIMIT.read_text().strip() == "3"
        assert not sysctl.exists()
        assert coresnap_main(["uninstall", *args]) == 1  # nothing left to restore
    assert crashes.read_core_pattern() == original


def test_uninstall_leaves_a_foreign_pattern_alone(root: Path) -> None:
    dumps = root / "d"
    with crashes.core_pattern(None) as original, pipe_limit(None):
        try:
            assert coresnap_main(["install", "-r", str(dumps), "--no-sysctl-file"]) == 0
            install.CORE_PATTERN.write_text("core.%p\n")  # someone else changed it since
            assert (
                coresnap_main(["uninstall", "-r", str(dumps), "--sysctl-file", str(root / "x")])
                == 0
            )
            assert crashes.read_core_pattern() == "core.%p"
        finally:
            install.CORE_PATTERN.write_text(original + "\n")


def test_uninstall_removes_the_drop_in_where_install_wrote_it(root: Path) -> None:
    """A drop-in written to a custom path goes away without naming it again (issue 14)."""
    custom = root / "sysctl" / "60-custom.conf"
    dumps = root / "d"
    with crashes.core_pattern(None) as original, pipe_limit(None):
        try:
            assert coresnap_main(["install", "-r", str(dumps), "--sysctl-file", str(custom)]) == 0
            assert custom.read_text().startswith(install.MARKER)
            assert coresnap_main(["uninstall", "-r", str(dumps)]) == 0
            assert not custom.exists()
            assert crashes.read_core_pattern() == original
        finally:
            install.CORE_PATTERN.write_text(original + "\n")
