"""coresnap-archive replayed from argv + stdin, without a kernel: every way a capture can go."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from coresnap import config as configuration
from coresnap.capture import archive, fields
from coresnap.capture.log import Log
from coresnap.errors import CaptureRejected
from coresnap.spool import counters
from coresnap.spool.assets import read_metadata
from tests import crashes
from tests.capture.hook import ARCHIVE, short_dir, write_conf


@pytest.fixture(scope="module")
def real_crash(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("capture_crash.c")
    return crashes.crash(exe, ["threads", "2"], cwd=tmp_path_factory.mktemp("replay"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "dumps"


def argv(
    root: Path, pid: int, *, limit: int = fields.RLIM_INFINITY, dumpable: int = 1
) -> list[str]:
    values = {"pid": pid, "ns_pid": pid, "tid": pid, "ns_tid": pid, "signal": 11,
              "time": 1700000000, "core_limit": limit, "hostname": "replay", "uid": 0, "gid": 0,
              "dumpable": dumpable, "comm": "capture_crash", "exe_path": "!tmp!capture_crash"}  # fmt: skip
    return ["-r", str(root), *(str(values[f.name]) for f in fields.FIELDS)]


def run(root: Path, data: bytes, pid: int, **kw: int) -> int:
    return archive.main(argv(root, pid, **kw), io.BytesIO(data))


def only_pending(root: Path) -> Path:
    [core] = list((root / "pending").iterdir())
    return core


def test_replay_of_a_real_core(root: Path, real_crash: crashes.Crash) -> None:
    data = real_crash.core.read_bytes()
    assert run(root, data, real_crash.pid) == 0
    core = only_pending(root)
    assert core.read_bytes() == data
    meta = read_metadata(root / "assets" / core.name)
    assert meta["core"]["verified"] and meta["core"]["threads"] == 3
    assert meta["core_pattern"]["%t"] == "1700000000" and meta["exe_path"] == "/tmp/capture_crash"
    assert "proc/maps" in meta["assets_missing"]  # the process is long gone
    assert oct(core.stat().st_mode & 0o777) == "0o640"


def test_the_pipe_is_let_go_once_read_before_the_fsync_and_publication(
    root: Path, real_crash: crashes.Crash
) -> None:
    """With core_pipe_limit > 0 the kernel holds the crashed process until its handler lets
    the pipe go: coresnap-archive does so once the core is read, not after the checks, the
    fsync and the rename into pending/ (those need neither the pipe nor /proc/<pid>)."""
    data = real_crash.core.read_bytes()
    src = io.BytesIO(data)
    seen: list[tuple[int, list[str], list[str]]] = []

    def release() -> None:
        seen.append((src.tell(), sorted(os.listdir(root / "staging")),
                     sorted(os.listdir(root / "pending"))))  # fmt: skip

    cfg = configuration.load(str(write_conf(root.parent / "c.conf", dump__root=str(root),
                                            dump__keep="full")))  # fmt: skip
    crash = fields.parse(argv(root, real_crash.pid)[2:])
    dump_id = archive.Archive(cfg, str(root), crash, Log("test")).run(src, release)
    [(read, staging, pending)] = seen
    assert read == len(data), "released before the whole core was read"
    assert staging == [f"{dump_id}.core.{os.getpid()}"], staging
    assert pending == [], "released after publication"
    assert only_pending(root).read_bytes() == data


def test_the_pipe_is_let_go_when_the_capture_fails(root: Path) -> None:
    released = []
    cfg = configuration.load(str(write_conf(root.parent / "c.conf", dump__root=str(root))))
    crash = fields.parse(argv(root, 4242)[2:])
    with pytest.raises(CaptureRejected, match="zero-length"):
        archive.Archive(cfg, str(root), crash, Log("test")).run(io.BytesIO(b""),
                                                                 lambda: released.append(1))  # fmt: skip
    assert released == [1]


def test_the_handler_replaces_the_pipe_by_dev_null() -> None:
    read, write = os.pipe()
    saved = os.dup(0)
    try:
        os.dup2(read, 0)
        archive.release_pipe()
        assert os.path.realpath("/proc/self/fd/0") == os.devnull
        os.close(read)
        with pytest.raises(BrokenPipeError):  # no reader is left: the kernel would go on
            os.write(write, b"x")
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(write)


def test_suid_dump_stays_private(root: Path, real_crash: crashes.Crash) -> None:
    assert run(root, real_crash.core.read_bytes(), real_crash.pid, dumpable=2) == 0
    assert oct(only_pending(root).stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("data", "counter"),
    [
        (b"", "empty"),
        (b"garbage on the pipe\n" * 1000, "invalid"),
        (b"\x7fELF\x02\x01\x01" + bytes(200), "invalid"),
    ],
    ids=["zero-length", "garbage", "elf-not-core"],
)
def test_bad_input_is_dropped_counted_and_logged(
    root: Path, data: bytes, counter: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(root, data, 4242) == 1
    assert list((root / "pending").iterdir()) == []
    assert list((root / "staging").iterdir()) == []
    assert list((root / "assets").iterdir()) == []
    assert counters.read(root)[f"dropped.{counter}"] == 1
    assert "pid 4242 (/tmp/capture_crash) not archived" in capfd.readouterr().err


def test_core_of_another_process_is_refused(root: Path, real_crash: crashes.Crash) -> None:
    assert run(root, real_crash.core.read_bytes(), real_crash.pid + 100000) == 1
    assert list((root / "pending").iterdir()) == []
    assert counters.read(root)["dropped.invalid"] == 1


def test_truncated_core_is_kept_and_marked(root: Path, real_crash: crashes.Crash) -> None:
    data = real_crash.core.read_bytes()
    assert run(root, data, real_crash.pid, limit=64 * 1024) == 0
    core = only_pending(root)
    assert core.read_bytes() == data[: 64 * 1024]
    meta = read_metadata(root / "assets" / core.name)["core"]
    assert meta["truncated"] and meta["truncated_by"] == "%c (RLIMIT_CORE)"


def test_zero_core_limit_means_no_core(root: Path, real_crash: crashes.Crash) -> None:
    assert run(root, real_crash.core.read_bytes(), real_crash.pid, limit=0) == 1
    assert counters.read(root)["dropped.core_limit"] == 1


def test_max_size_truncates(tmp_path: Path, real_crash: crashes.Crash) -> None:
    root = tmp_path / "d"
    conf = write_conf(tmp_path / "c", dump__max_size="100k", dump__root=str(root))
    args = ["-c", str(conf), *argv(root, real_crash.pid)[2:]]
    assert archive.main(args, io.BytesIO(real_crash.core.read_bytes())) == 0
    meta = read_metadata(root / "assets" / only_pending(root).name)["core"]
    assert meta["size"] == 100 * 1024 and meta["truncated_by"] == "dump.max_size"


def test_max_pending_brakes_a_storm(tmp_path: Path, real_crash: crashes.Crash) -> None:
    root = tmp_path / "d"
    conf = write_conf(tmp_path / "c", dump__max_pending="2", dump__root=str(root))
    args = ["-c", str(conf), *argv(root, real_crash.pid)[2:]]
    data = real_crash.core.read_bytes()
    results = [archive.main(args, io.BytesIO(data)) for _ in range(4)]
    assert results == [0, 0, 1, 1]
    assert counters.read(root) == {"archived": 2, "dropped.max_pending": 2,
                                   "dropped_by_exe.capture_crash": 2}  # fmt: skip


def test_usage_error(capfd: pytest.CaptureFixture[str]) -> None:
    assert archive.main(["1", "2"], io.BytesIO(b"")) == 2
    assert "expected 13 core_pattern fields" in capfd.readouterr().err


@pytest.fixture
def tiny_fs():
    """A 4 MiB tmpfs as the dump root (unmounted in finally)."""
    mnt = short_dir("cs-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        shutil.rmtree(mnt, ignore_errors=True)


def test_quota_stops_the_write_and_leaves_nothing(tiny_fs: Path, real_crash: crashes.Crash) -> None:
    data = real_crash.core.read_bytes() + os.urandom(3 << 20)  # more than the file system can hold
    conf = write_conf(tiny_fs / "c", dump__quota="25", dump__root=str(tiny_fs / "d"))
    args = ["-c", str(conf), *argv(tiny_fs / "d", real_crash.pid)[2:]]
    assert archive.main(args, io.BytesIO(data[: 600 * 1024])) == 0  # fits: archived
    assert archive.main(args, io.BytesIO(data)) == 1  # would break the quota: dropped
    root = tiny_fs / "d"
    assert len(list((root / "pending").iterdir())) == 1
    assert list((root / "staging").iterdir()) == []
    assert len(list((root / "assets").iterdir())) == 1
    values = counters.read(root)
    assert (
        values["archived"] == 1 and values["dropped.quota"] + values.get("dropped.no_space", 0) == 1
    )


def test_disk_full_without_quota_is_clean(tiny_fs: Path, real_crash: crashes.Crash) -> None:
    conf = write_conf(tiny_fs / "c", dump__quota="0", dump__root=str(tiny_fs / "d"))
    args = ["-c", str(conf), *argv(tiny_fs / "d", real_crash.pid)[2:]]
    data = real_crash.core.read_bytes()[:4096] + os.urandom(8 << 20)
    assert archive.main(args, io.BytesIO(data)) == 1
    root = tiny_fs / "d"
    assert list((root / "pending").iterdir()) == [] and list((root / "staging").iterdir()) == []
    assert counters.read(root)["dropped.no_space"] == 1


def test_signal_names(root: Path, real_crash: crashes.Crash) -> None:
    assert run(root, real_crash.core.read_bytes(), real_crash.pid) == 0
    meta = read_metadata(root / "assets" / only_pending(root).name)
    assert meta["signal_name"] == signal.Signals.SIGSEGV.name


@pytest.mark.parametrize("field", ["pid", "ns_pid", "signal", "time"])
def test_non_numeric_field_logs_one_line_and_keeps_the_core(
    root: Path, real_crash: crashes.Crash, field: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """A core_pattern mistake (a non-number where the kernel puts one) is not the crash's
    fault: the core and what can still be read are archived, one line says what was wrong,
    and the exit status says the hook needs fixing."""
    args = argv(root, real_crash.pid)
    spec = next(f.specifier for f in fields.FIELDS if f.name == field)
    args[2 + [f.name for f in fields.FIELDS].index(field)] = "x!y"
    assert archive.main(args, io.BytesIO(real_crash.core.read_bytes())) == 2
    err = capfd.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if f"%{spec}" in line]
    assert "'x!y' is not a number" in line
    core = only_pending(root)
    assert core.read_bytes() == real_crash.core.read_bytes()
    meta = read_metadata(root / "assets" / core.name)
    assert meta["core_pattern"][f"%{spec}"] == "x!y"
    assert "meminfo" not in meta["assets_missing"]
    assert counters.read(root)["archived"] == 1


def test_installed_handler_with_a_bad_pid_exits_without_a_traceback(
    root: Path, real_crash: crashes.Crash
) -> None:
    """The same through the installed ``coresnap-archive`` script, as the kernel runs it."""
    args = argv(root, real_crash.pid)
    args[2] = "%P"  # a pattern pasted without the kernel expanding it
    done = subprocess.run([str(ARCHIVE), *args], input=real_crash.core.read_bytes(),
                          capture_output=True, timeout=60)  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in err, err
    assert "%P (pid) '%P' is not a number" in err
    assert only_pending(root).read_bytes() == real_crash.core.read_bytes()


def fill(directory: Path) -> None:
    """Write zeros into ``directory`` until its file system refuses another byte."""
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(bytes(64 * 1024))
        except OSError as e:
            assert e.errno == 28, e
        try:
            while True:
                f.write(b"\0")
        except OSError as e:
            assert e.errno == 28, e


def test_full_disk_drop_is_counted_and_leaves_no_temp_file(
    tiny_fs: Path, real_crash: crashes.Crash
) -> None:
    root = tiny_fs / "d"
    conf = write_conf(tiny_fs / "c", dump__quota="0", dump__root=str(root))
    args = ["-c", str(conf), *argv(root, real_crash.pid)[2:]]
    data = real_crash.core.read_bytes()
    assert archive.main(args, io.BytesIO(data)) == 0
    fill(tiny_fs)
    assert archive.main(args, io.BytesIO(data)) == 1
    assert archive.main(args, io.BytesIO(data)) == 1
    assert [p.name for p in root.iterdir() if p.name.startswith(".counters.json")] == []
    values = counters.read(root)
    assert values["archived"] == 1 and values["dropped.no_space"] == 2, values
    (tiny_fs / "filler").unlink()
    assert archive.main(args, io.BytesIO(data)) == 0
    assert counters.read(root)["archived"] == 2
