"""The dump id is the object id: the store's ``coroner get <id>`` finds what ``coresnap list``
shows, whatever extra ``--kv`` attributes ``defaults.command`` adds (issue 14)."""

from __future__ import annotations

from pathlib import Path

from coresnap.snapshot.format import load
from tests import crashes
from tests.daemon.daemon_helpers import conf, coresnapd, names, replay, wait_for

BUILT_IN = "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B"


def test_extra_kv_keep_the_object_id(tmp_path: Path) -> None:
    exe = crashes.build("capture_crash.c")
    crash = crashes.crash(exe, ["segv"], cwd=tmp_path)
    root, store = tmp_path / "root", tmp_path / "store"
    cfg = conf(tmp_path / "c.conf", root, store, snapshot__command=BUILT_IN,
               snapshot__warm="no", defaults__command="--kv datacenter:ams1 --kv rack:r7,row:3")  # fmt: skip
    assert replay(root, crash.core.read_bytes(), crash.pid, exe=str(crash.exe)) == 0
    [dump_id] = names(root / "pending")
    with coresnapd(cfg):
        wait_for(lambda: names(store) != [], timeout=120, what="a put")
    assert names(store) == [dump_id]
    snap = load(store / dump_id)
    assert snap["uuid"] == dump_id
    attrs = snap["attributes"]
    assert (attrs["datacenter"], attrs["rack"], attrs["row"]) == ("ams1", "r7", "3")
