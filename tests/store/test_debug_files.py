"""Debug files: a stripped crash whose pc its unstripped twin never hit is named from the debug
file uploaded for its build id, and groups with the twin (at ingest and by ``coronerd regroup``);
bad uploads are refused. Real gcc -O2 -g builds, ``strip``, real cores, a real coronerd over
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard
from sqlalchemy import select

from coresnap.analysis import document
from coresnap.store import debugfiles, debugsyms, fingerprints, symbols
from coresnap.store.db.models import objects
from tests.crashes import build, crash
from tests.run_cli import coresnap
from tests.store.coronerd_server import Project, Server
from tests.store.regroup_crashes import (
    consistency,
    coronerd,
    keyed,
    project_id,
    store_parts,
    upload,
)

PROGRAM = Path(__file__).parent / "programs" / "stripped_bugs.c"
# name -> (build, argv): the twin crashes through via_a, the stripped build through via_b.
RUNS = {
    "twin": ("debug", ["a"]),
    "twin-b": ("debug", ["b", "3"]),
    "stripped": ("stripped", ["b", "1"]),
    "stripped2": ("stripped", ["b", "2"]),
    "jump": ("debug", ["c"]),  # a bad jump: the caller is found in the classification only
    "stripped-jump": ("stripped", ["c"]),
}


class Crashes:
    def __init__(self, work: Path) -> None:
        self.debug = build(PROGRAM, flags=("-g", "-O2"))
        self.other = build(PROGRAM, flags=("-g", "-O1"))  # symbols, another build id
        (work / "host2").mkdir(parents=True, exist_ok=True)
        self.stripped = work / "host2" / self.debug.name  # the same file name on another host
        subprocess.run(["strip", "-o", str(self.stripped), str(self.debug)], check=True)
        exes = {"debug": self.debug, "stripped": self.stripped}
        self.docs: dict[str, dict[str, Any]] = {}
        for name, (kind, argv) in RUNS.items():
            c = crash(exes[kind], argv, cwd=work / name, expect_signal=11)
            snap = work / name / "crash.snap"
            done = coresnap("snapshot", "-o", str(snap), str(c.core), str(c.exe))
            assert done.returncode == 0, done.stderr
            self.docs[name] = json.loads(zstandard.decompress(snap.read_bytes()))

    def body(self, name: str) -> bytes:
        """Another occurrence of crash ``name`` as a client sends it."""
        doc = {**self.docs[name], "uuid": uuid.uuid4().hex}
        return zstandard.compress(json.dumps(doc).encode())


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> Crashes:
    return Crashes(tmp_path_factory.mktemp("debug-files"))


def _build_id(doc: dict[str, Any]) -> str:
    return str(document.crashed_frames(doc)[0]["build_id"])


def _put(store: Server, p: Project, build_id: str, data: bytes, token: str = "blackhole") -> Any:
    return httpx.put(
        f"{store.url}/api/v1/projects/{p.name}/symbols/{build_id}",
        content=data,
        headers=p.headers(token),
        timeout=60,
    )


def test_debug_file_names_a_pc_exactly_as_the_unstripped_snapshot(crashes: Crashes) -> None:
    stripped, twin = crashes.docs["stripped"], crashes.docs["twin-b"]
    pcs = debugsyms.wanted(stripped, symbols.Symbols())
    assert list(pcs) == [_build_id(stripped)]
    found = debugsyms.resolve(str(crashes.debug), pcs[_build_id(stripped)])
    known = symbols.Symbols(pcs={(_build_id(stripped), k): v for k, v in found.items()})
    filled, fills = symbols.fill(stripped, known)
    assert fills and stripped == crashes.docs["stripped"]  # a copy: the snapshot is unchanged
    fields = (*symbols.PC_FIELDS, "module_offset")
    own = [f for f in document.crashed_frames(twin) if f.get("build_id") == _build_id(twin)]
    got = [f for f in document.crashed_frames(filled) if f.get("build_id") == _build_id(twin)]
    assert [f["function"] for f in own][:3] == ["put_len", "via_b", "main"]
    # The same frames: a caller's line is the call's (one byte before its return address).
    assert [{k: f.get(k) for k in fields} for f in got] == [
        {k: f.get(k) for k in fields} for f in own
    ]
    assert fingerprints.compute(stripped, known).hash == fingerprints.compute(twin).hash
    assert fingerprints.compute(twin).hash == fingerprints.compute(crashes.docs["twin"]).hash
    assert fingerprints.compute(stripped).hash != fingerprints.compute(twin).hash
    assert debugsyms.resolve(str(crashes.debug), {0: True}) == {}  # the ELF header names nothing


def test_a_separate_debug_file_names_the_same_frames(crashes: Crashes, tmp_path: Path) -> None:
    separate = tmp_path / "prog.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(crashes.debug), str(separate)], check=True)
    data = separate.read_bytes()
    assert debugfiles.build_id_of(data) == _build_id(crashes.docs["stripped"])
    pcs = debugsyms.wanted(crashes.docs["stripped"], symbols.Symbols())
    for wanted in pcs.values():
        found = debugsyms.resolve(str(separate), wanted)
        assert found and found == debugsyms.resolve(str(crashes.debug), wanted)


def test_a_bad_jumps_caller_is_named_from_the_debug_file(crashes: Crashes) -> None:
    stripped, twin = crashes.docs["stripped-jump"], crashes.docs["jump"]
    assert "bad-jump" in document.labels(stripped)
    build_id = _build_id(crashes.docs["stripped"])
    pcs = debugsyms.wanted(stripped, symbols.Symbols())
    known = symbols.Symbols()
    for offset, chain in debugsyms.resolve(str(crashes.debug), pcs[build_id]).items():
        known.pcs[(build_id, offset)] = chain
    filled, fills = symbols.fill(stripped, known)
    assert {"frame": "caller", "function": ["via_c"]}.items() <= fills[-1].items()
    caller = next(e["facts"]["caller"] for e in document.classification(filled)["evidence"])
    assert caller["function"] == "via_c"
    assert fingerprints.compute(stripped, known).hash == fingerprints.compute(twin).hash
    assert fingerprints.compute(stripped).hash != fingerprints.compute(twin).hash


def test_stripped_crash_groups_with_its_twin_once_the_debug_file_is_uploaded(
    store: Server, crashes: Crashes
) -> None:
    p = store.project()
    twin = upload(store, p, crashes.body("twin"))["group"]
    before = upload(store, p, crashes.body("stripped"))
    assert before["group"] != twin  # its pc was never seen unstripped: no name, no group

    cli = [sys.executable, "-m", "coresnap.cli.coroner", "-c", str(p.cf), "symbols"]
    up = subprocess.run(
        [*cli, "upload", p.name, str(crashes.debug)], capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    assert up.stdout.split()[0] == _build_id(crashes.docs["stripped"])
    listed = subprocess.run([*cli, "list", p.name], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert (
        _build_id(crashes.docs["stripped"]) in listed.stdout and crashes.debug.name in listed.stdout
    )

    after = upload(store, p, crashes.body("stripped2"))
    assert after["group"] == twin  # named from the debug file at ingest
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        with engine.connect() as conn:
            q = select(objects.c.learned).where(objects.c.oid == after["object"])
            learned = json.loads(conn.execute(q).scalar_one())
        assert [f["function"] for f in learned][:2] == [["put_len", "via_b"], ["main"]]
        assert keyed(engine, pid)[before["object"]] != twin  # until regroup
        done = coronerd(store, "regroup", "--project", p.name)
        assert done.returncode == 0, done.stderr
        assert "symbols for build id" in done.stdout
        assert set(keyed(engine, pid).values()) == {twin}
        assert consistency(engine, pid) == []
    finally:
        engine.dispose()


def test_bad_debug_files_are_refused(store: Server, crashes: Crashes) -> None:
    p = store.project()
    build_id = _build_id(crashes.docs["stripped"])
    cases = [
        (b"just text, not ELF", "blackhole", 422, "not an ELF file"),
        (crashes.stripped.read_bytes(), "blackhole", 422, "no .symtab and no .debug_info"),
        (crashes.other.read_bytes(), "blackhole", 422, f"not {build_id}"),
        (crashes.debug.read_bytes(), "reader", 403, "may not submit"),
    ]
    for data, token, status, says in cases:
        reply = _put(store, p, build_id, data, token)
        assert reply.status_code == status, reply.text
        assert says in reply.json()["error"]["message"]
    assert _put(store, p, "not-hex", crashes.debug.read_bytes()).status_code == 400
    no_token = httpx.put(f"{store.url}/api/v1/projects/{p.name}/symbols/{build_id}", content=b"")
    assert no_token.status_code == 401
    listed = httpx.get(f"{store.url}/api/v1/projects/{p.name}/symbols", headers=p.headers())
    assert listed.json()["debug_files"] == []  # nothing refused was kept
    ok = _put(store, p, build_id.upper(), crashes.debug.read_bytes(), "submitter")
    assert ok.status_code == 201, ok.text
    assert ok.json()["build_id"] == build_id
    again = _put(store, p, build_id, crashes.debug.read_bytes())  # replaces it
    assert again.status_code == 201, again.text
    listed = httpx.get(f"{store.url}/api/v1/projects/{p.name}/symbols", headers=p.headers())
    assert [r["build_id"] for r in listed.json()["debug_files"]] == [build_id]


def test_a_failing_lookup_never_fails_the_upload(store: Server, crashes: Crashes) -> None:
    p = store.project()
    twin = upload(store, p, crashes.body("twin"))["group"]
    build_id = _build_id(crashes.docs["stripped"])
    assert _put(store, p, build_id, crashes.debug.read_bytes()).status_code == 201
    blob = store.workdir / "blobs" / p.name / "debug" / build_id[:2] / f"{build_id}.debug"
    blob.write_bytes(b"\x7fELF" + b"\xff" * 64)  # damaged on disk after it was checked
    stored = upload(store, p, crashes.body("stripped"))  # 2xx all the same, unnamed
    assert stored["group"] != twin
    assert "symbolisation failed" in store.log()
