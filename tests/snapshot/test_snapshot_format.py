"""The v1 format: schema validity of every snapshot, the zstd round trip, size targets, and
the facts that come from the crash-time assets (--resource) and --kv."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coresnap.errors import ConfigError, SnapshotFormatError, SnapshotTooLarge
from coresnap.snapshot import compression, dumps, load, loads, validate
from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.format import encode, schema, to_json
from tests.snapshot.snapshot_support import Crashed, coresnap


def test_every_snapshot_validates_and_round_trips(crashed: dict[str, Crashed]) -> None:
    for c in crashed.values():
        validate(c.snapshot)
        assert loads(dumps(c.snapshot)) == c.snapshot
        assert c.snapshot["analysis"]["engine"] == "drgn", c.snapshot["analysis"]


def test_the_encoding_is_compact_utf8_json_even_where_orjson_refuses(
    crashed: dict[str, Crashed],
) -> None:
    """orjson writes the snapshot when it can; a 128-bit value and a string that is not UTF-8
    (an argv read with surrogateescape) are written by json instead, never lost."""
    snap = copy.deepcopy(crashed["c_O0"].snapshot)
    plain = encode(snap)
    assert json.loads(plain) == snap
    assert plain == json.dumps(snap, separators=(",", ":"), ensure_ascii=False).encode()
    snap["process"]["cmdline"] = ["caf\u00e9", "\udcff-not-utf8"]
    snap["threads"][0]["registers"]["xmm0"] = 1 << 127
    odd = encode(snap)
    assert json.loads(odd) == snap
    assert loads(dumps(snap)) == snap
    assert len(odd) == len(to_json(snap))


def test_contract_keys_are_required_by_the_schema() -> None:
    required = set(schema()["required"])
    contract = "format version uuid timestamp process signal crashed_thread threads modules "
    contract += "memory_map system attributes classification annotations fingerprint quality "
    contract += "analysis"
    assert set(contract.split()) <= required


def test_small_crash_is_under_32_kb(crashed: dict[str, Crashed]) -> None:
    for name in ("c_O0", "c_O2", "cxx_O0"):
        size = len(dumps(crashed[name].snapshot))
        assert size < 32 * 1024, f"{name}: {size} bytes"


def test_bad_snapshot_bytes_are_named() -> None:
    with pytest.raises(SnapshotFormatError, match="not JSON"):
        loads(b"\x00garbage")
    with pytest.raises(SnapshotFormatError, match="not a coresnap-snapshot"):
        loads(b'{"format": "other"}')
    with pytest.raises(SnapshotFormatError, match="zstd"):
        loads(b"\x28\xb5\x2f\xfd" + b"\xff" * 20)
    bomb = zstandard.ZstdCompressor().compress(b" " * (300 * 1024 * 1024))
    with pytest.raises(SnapshotTooLarge, match="declared in its zstd frame"):
        loads(bomb)
    # Without a declared size, decompression stops at the limit.
    streamed = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as w:
        for _ in range(300):
            w.write(b" " * (1024 * 1024))
    assert zstandard.frame_content_size(streamed.getvalue()) == -1
    with pytest.raises(SnapshotTooLarge, match="decompressed snapshot is over the limit"):
        loads(streamed.getvalue())


def test_a_snapshot_is_one_frame_on_the_host_as_in_coronerd(
    crashed: dict[str, Crashed], tmp_path: Path
) -> None:
    """Bytes after the snapshot's zstd frame (a second frame, garbage) are refused by the host's
    reader as coronerd refuses them at upload: one reader (snapshot.compression) for both.
    Before, the host read the first frame and ignored the rest."""
    good = dumps(crashed["c_O0"].snapshot)
    second = zstandard.ZstdCompressor().compress(b" " * (64 * 1024 * 1024))
    for tail in (second, b"\x00", b"\x50\x2a\x4d\x18" + b"\x00" * 8):  # skippable frame
        with pytest.raises(SnapshotFormatError, match="bytes after the snapshot's frame"):
            loads(good + tail)
    path = tmp_path / "two-frames.snap"
    path.write_bytes(good + second)
    result = coresnap("view", str(path))
    assert result.returncode != 0 and "bytes after the snapshot's frame" in result.stderr
    assert "Traceback" not in result.stderr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compressed_reader_names_every_bad_input(data: st.DataObject) -> None:
    """Any bytes (random, or a real frame with some bytes changed, cut or extended) give the
    content within the limit or a SnapshotFormatError: no other exception, nothing longer."""
    limit = 64 * 1024
    frame = bytearray(compression.compress(b'{"format": "coresnap-snapshot"}' * 100))
    kind = data.draw(st.sampled_from(["random", "mutated", "cut", "extended"]))
    if kind == "random":
        body = compression.ZSTD_MAGIC + data.draw(st.binary(max_size=200))
    elif kind == "mutated":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(4, len(frame) - 1))
            frame[at] = data.draw(st.integers(0, 255))
        body = bytes(frame)
    elif kind == "cut":
        body = bytes(frame[: data.draw(st.integers(4, len(frame) - 1))])
    else:
        body = bytes(frame) + data.draw(st.binary(min_size=1, max_size=64))
    try:
        out = compression.inflate(body, limit)
    except SnapshotFormatError:
        return
    assert len(out) <= limit


def test_schema_rejects_a_broken_snapshot(crashed: dict[str, Crashed]) -> None:
    snap = json.loads(json.dumps(crashed["c_O0"].snapshot))
    snap["threads"][0]["frames"][0]["pc"] = "not a number"
    with pytest.raises(SnapshotFormatError, match="threads/0/frames/0/pc"):
        validate(snap)


def test_shipped_fast_validator_is_generated_from_the_schema_of_today() -> None:
    """coresnap/snapshot/_format_check.py is fastjsonschema's code for the current schema and
    the pinned fastjsonschema, byte for byte: a schema change without regenerating it fails."""
    from coresnap.snapshot import _format_check
    from coresnap.snapshot.format import fast_check_source

    shipped = Path(_format_check.__file__).read_text(encoding="utf-8")
    assert shipped == fast_check_source(), (
        "regenerate: .venv/bin/python -c 'from coresnap.snapshot.format import fast_check_source;"
        ' open("coresnap/snapshot/_format_check.py", "w").write(fast_check_source())\''
    )


def test_fast_and_full_validators_agree(crashed: dict[str, Crashed]) -> None:
    """validate() asks fastjsonschema first and jsonschema only to explain a failure: both must
    give the same verdict on valid snapshots and on every kind of damage."""
    import random

    from coresnap.snapshot.format import _fast_check, _validator

    def both(doc: dict[str, object]) -> tuple[bool, bool]:
        try:
            _fast_check()(doc)
            fast = True
        except Exception:  # fastjsonschema.JsonSchemaException
            fast = False
        return fast, _validator().is_valid(doc)

    rng = random.Random(7)
    bad_values: list[object] = [None, "x", -1, 1.5, [], {}, True, 2**70]
    checked = 0
    for c in crashed.values():
        assert both(c.snapshot) == (True, True)
        for _ in range(60):
            doc = json.loads(json.dumps(c.snapshot))
            node: object = doc
            # Walk to a random container, then damage one key: change, delete or add.
            for _depth in range(rng.randrange(1, 6)):
                if isinstance(node, dict) and node:
                    child = node[rng.choice(sorted(node))]
                elif isinstance(node, list) and node:
                    child = rng.choice(node)
                else:
                    break
                if not isinstance(child, (dict, list)):
                    break
                node = child
            if isinstance(node, dict) and node:
                key = rng.choice(sorted(node))
                action = rng.randrange(3)
                if action == 0:
                    node[key] = rng.choice(bad_values)
                elif action == 1:
                    del node[key]
                else:
                    node["unexpected_" + key] = 1
            elif isinstance(node, list) and node:
                node[rng.randrange(len(node))] = rng.choice(bad_values)
            fast, full = both(doc)
            assert fast == full, json.dumps(doc)[:2000]
            checked += 1
    assert checked >= 400


def _assets(root: Path) -> Path:
    (root / "proc").mkdir(parents=True)
    files = {
        "metadata.json": json.dumps({"time": "1700000000", "hostname": "meta-host", "uid": "7"}),
        "proc/cmdline": "./prog\0--flag\0value\0",
        "proc/environ": "LANG=C\0TERM=xterm\0",
        "proc/cwd": "/srv/app",
        "proc/exe": "/srv/app/prog",
        "proc/status": "Name:\tprog\nPPid:\t42\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\n",
        "meminfo": "MemTotal:       16384 kB\nMemAvailable:    8192 kB\n",
        "loadavg": "0.50 0.25 0.10 1/100 1234\n",
        "uname": json.dumps(
            {
                "sysname": "Linux",
                "nodename": "crash-host",
                "release": "6.1.0",
                "version": "#1 SMP",
                "machine": "x86_64",
            }
        ),
        "os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
        "boot_id": "0f0e0d0c-0000-4000-8000-000000000001\n",
        "uptime": "3600.25 7000.00\n",
        "hostname": "crash-host\n",
    }
    for name, body in files.items():
        (root / name).write_text(body)
    return root


def _check_asset_facts(snap: dict) -> None:
    assert snap["timestamp"] == 1700000000.0
    p = snap["process"]
    assert p["cmdline"] == ["./prog", "--flag", "value"]
    assert p["environ"] == {"LANG": "C", "TERM": "xterm"}
    assert (p["cwd"], p["exe"], p["uid"], p["gid"], p["ppid"]) == (
        "/srv/app",
        "/srv/app/prog",
        1000,
        100,
        42,
    )
    s = snap["system"]
    assert s["hostname"] == "crash-host" and s["kernel"]["release"] == "6.1.0"
    assert s["meminfo"]["MemTotal"] == 16384 * 1024 and s["loadavg"] == [0.5, 0.25, 0.1]
    assert s["uptime"] == 3600.25 and s["boot_id"].startswith("0f0e0d0c")
    assert s["os_release"]["ID"] == "debian" and s["source"] == "asset"
    a = snap["attributes"]
    assert a["application"] == "prog" and a["hostname"] == "crash-host"
    assert a["uname.sysname"] == "Linux" and a["uname.machine"] == "x86_64"
    assert a["signal"] == "SIGSEGV" and a["team"] == "storage"


def test_resource_dir_and_tar_and_kv(crashed: dict[str, Crashed], tmp_path: Path) -> None:
    c = crashed["c_O0"].crash
    root = _assets(tmp_path / "assets")
    oid = "0123456789abcdef0123456789abcdef"
    kv = {"coresnap.object": oid, "team": "storage"}
    snap = build_snapshot(c.core, str(c.exe), resource=root, kv=kv)
    validate(snap)
    _check_asset_facts(snap)
    assert snap["uuid"] == oid
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(root)))
    (tmp_path / "assets.tar").write_bytes(buf.getvalue())
    out = tmp_path / "s.snap"
    done = coresnap(
        "snapshot",
        str(c.core),
        str(c.exe),
        "-o",
        str(out),
        "--resource",
        str(tmp_path / "assets.tar"),
        "--kv",
        f"coresnap.object:{oid},team:storage",
    )
    assert done.returncode == 0, done.stderr
    snap = load(out)
    _check_asset_facts(snap)
    assert snap["uuid"] == oid


def test_bad_kv_object_id_is_a_config_error(crashed: dict[str, Crashed]) -> None:
    c = crashed["c_O0"].crash
    with pytest.raises(ConfigError, match="coresnap.object"):
        build_snapshot(c.core, str(c.exe), kv={"coresnap.object": "nope"})
    done = coresnap("snapshot", str(c.core), "--json", "--kv", "novalue")
    assert done.returncode == 1 and "not key:value" in done.stderr
    assert "Traceback" not in done.stderr


def test_json_output_is_the_snapshot(crashed: dict[str, Crashed]) -> None:
    c = crashed["c_O0"].crash
    done = coresnap("snapshot", str(c.core), str(c.exe), "--json")
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)
    validate(snap)
    assert snap["threads"][0]["frames"][0]["function"] == "crash_here"
    assert "null-deref" in snap["classification"]["labels"] and snap["fingerprint"]["hash"]
    bare = coresnap("snapshot", str(c.core), str(c.exe), "--json", "--no-analysis")
    assert json.loads(bare.stdout)["classification"] is None


def test_every_schema_key_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "snapshot-format.md").read_text()
    s = schema()
    keys = set(s["properties"])
    for name in ("thread", "frame", "variable", "module", "mapping"):
        keys |= set(s["$defs"][name]["properties"])
    missing = sorted(k for k in keys if f"`{k}`" not in doc and f" {k} " not in doc)
    assert not missing, f"docs/snapshot-format.md does not document {missing}"
