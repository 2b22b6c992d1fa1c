"""dump.quota on FreeBSD: the check is os.statvfs and POSIX fields only, nothing Linux-only
(no /proc/mounts, no statfs f_type), so the archive tool, devd's companion and kernel-import
enforce it the same way on UFS and ZFS as on Linux file systems."""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from pathlib import Path

import pytest

from coresnap.capture import archive
from coresnap.errors import CaptureRejected

POSIX_STATVFS = {"f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                 "f_ffree", "f_favail", "f_flag", "f_namemax"}  # fmt: skip


def test_the_quota_check_uses_only_posix_calls() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(archive._quota_guard)))
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls == {"os.statvfs", "CaptureRejected"}, calls
    fields = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
              and isinstance(n.value, ast.Name) and n.value.id == "st"}  # fmt: skip
    assert fields and fields <= POSIX_STATVFS, fields


def test_the_quota_check_on_this_file_system(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    free = st.f_bavail * 100.0 / st.f_blocks
    archive._quota_guard(str(tmp_path), max(0.0, free - 1))(0)
    with pytest.raises(CaptureRejected, match="dump.quota"):
        archive._quota_guard(str(tmp_path), min(99.99, free + 1))(0)
