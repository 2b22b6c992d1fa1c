"""The asset tar's one owner, coresnap/spool/assets.py: what it writes it reads back, and
docs/assets.md names every member a reader knows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coresnap.errors import AssetError
from coresnap.spool import assets
from coresnap.spool.stages import Spool, Stage

DOC = Path(__file__).resolve().parents[2] / "docs" / "assets.md"


def test_publish_then_read(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path))
    spool.create()
    meta = {"format": assets.FORMAT, "version": assets.VERSION, "id": "d1", "time": "17"}
    members = {"boot_id": b"0123-abcd\n", "proc/status": b"Name:\tx\n", "unknown": b"?"}
    assets.publish(spool, "d1", members, meta, mode=0o640, uid=os.getuid(), gid=os.getgid())
    path = spool.path(Stage.ASSETS, "d1")
    assert assets.read_metadata(path) == meta
    assert assets.read_member(path, "boot_id", 4) == b"0123"
    found = assets.read_assets(path)
    assert set(found) == {assets.METADATA, "boot_id", "proc/status"}  # unknown members skipped
    assert assets.metadata(found) == meta
    assert assets.text(found, "boot_id") == "0123-abcd"
    with pytest.raises(KeyError):
        assets.read_member(path, "uname")


def test_a_source_that_is_no_tar_is_an_asset_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a tar")
    with pytest.raises(AssetError):
        assets.read_assets(bad)


def test_every_member_is_documented() -> None:
    doc = DOC.read_text()
    missing = [name for name in assets.MEMBERS if f"`{name}`" not in doc]
    assert not missing, f"docs/assets.md does not name {missing}"
    assert assets.FORMAT in doc
