"""A crash carrying planted secrets, through the real host pipeline into a real store.

:func:`crash_through_pipeline` installs coresnap-archive as the kernel's core_pattern (with a
coresnap.conf of the test's own; restored in finally), runs coresnapd with the default snapshot
step (``coresnap snapshot … --isolate``) and put step (``coroner put`` into ``store``), crashes
tests/programs/privacy_leak.c with the secrets in its argv and environment, and waits for the
dump to be committed.
"""

from __future__ import annotations

import io
import resource
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

from tests import crashes
from tests.capture.hook import archive_hook, short_dir
from tests.daemon.daemon_helpers import conf, coresnapd, names, wait_for
from tests.store.coronerd_server import Project, Server

# What each secret is, and how the program gets it. None of these bytes is in the program.
ARGV = {"--password=": "hunter2", "--token": "abcTOKEN77", "-k": "4242PINcode",
        "url": "pa55w0rdURL"}  # fmt: skip
ENVIRON = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY",  # local `key`
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",  # local `access`
    "API_BEARER": "tok_9f8e7d6c5b4a3921",  # member req.header, "Bearer <token>"
    "LC_SECRET_TOKEN": "lcSecretTok3n",  # allowed by dump.environ's LC_*
    "MALLOC_PASSWORD": "mallocPassw0rd",  # allowed by dump.environ's MALLOC_*
    "SESSION_SEED": "seedQ7Z3X9",  # in local session_id, "sid-<seed>"
}
SECRETS = {**{f"argv {k}": v for k, v in ARGV.items()},
           **{f"environ {k}": v for k, v in ENVIRON.items()}}  # fmt: skip
# The scrubbers that each remove a secret by themselves (a secret two of them remove stays
# out when one is turned off). The environment scrubber also knows the secret-named variables
# of the process's memory (AWS_*), not only the allow-listed ones.
REMOVED_BY = {
    "argv --password=": {"argv"},  # also in local `first`
    "argv --token": {"argv"},
    "argv -k": {"argv"},  # privacy.flags.1
    "argv url": {"values"},
    "environ AWS_SECRET_ACCESS_KEY": {"variables", "environ"},
    "environ AWS_ACCESS_KEY_ID": {"values", "environ"},
    "environ API_BEARER": {"values"},
    "environ LC_SECRET_TOKEN": {"environ"},
    "environ MALLOC_PASSWORD": {"environ"},
    "environ SESSION_SEED": {"variables"},
}
# What the asset tar holds: the command line and the allow-listed environment.
IN_ASSETS = {k for k in SECRETS if k.startswith("argv")} | {
    "environ LC_SECRET_TOKEN", "environ MALLOC_PASSWORD"}  # fmt: skip
# privacy_leak's -k is no secret-looking name: coresnap.conf lists it (flags.txt format).
FLAG_SETTING = {"privacy__flags__1": "privacy_leak.* -k"}


@dataclass
class Captured:
    dump_id: str
    root: Path
    snapshot: bytes  # the committed snapshot file (zstd)
    document: bytes  # its JSON
    assets: dict[str, bytes]  # the asset tar's members


def args() -> list[str]:
    return [f"--password={ARGV['--password=']}", "--token", ARGV["--token"], "-k", ARGV["-k"],
            f"https://app:{ARGV['url']}@db.example.com/x"]  # fmt: skip


def environ() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", **ENVIRON}


def crash_through_pipeline(
    workdir: Path, store: Server, project: Project, **settings: str
) -> Captured:
    """One crash of privacy_leak with the planted secrets, archived, snapshotted and stored
    under a coresnap.conf with ``settings`` (``privacy__scrub="environ"``)."""
    exe = crashes.build("privacy_leak.c")
    root = short_dir("cs-priv-")  # core_pattern holds the conf path: 128 bytes at most
    try:
        cfg = conf(root / "c", root / "d", workdir / "unused",
                   snapshot__command="coresnap snapshot %c -o %S --resource %a "
                   "--kv coresnap.object:%B --isolate",
                   put__command="coroner -c %C put %p %T %S", coroner__config=str(project.cf),
                   defaults__project=project.name, defaults__token="blackhole",
                   log__file=str(workdir / "coresnapd.log"), **settings)  # fmt: skip
        with archive_hook(None, cfg), coresnapd(cfg):
            _crash(exe)
            wait_for(lambda: len(names(root / "d" / "committed")) == 1, timeout=120,
                     what="the snapshot committed")  # fmt: skip
        [dump_id] = names(root / "d" / "committed")
        snapshot = (root / "d" / "committed" / dump_id).read_bytes()
        shutil.copytree(root / "d", workdir / "dumps")
        return Captured(dump_id, workdir / "dumps", snapshot, zstandard.decompress(snapshot),
                        _members(root / "d" / "assets" / dump_id))  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _crash(exe: Path) -> None:
    def unlimited() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)

    proc = subprocess.run([str(exe), *args()], env=environ(), preexec_fn=unlimited,
                          capture_output=True, timeout=60)  # fmt: skip
    assert proc.returncode < 0, f"privacy_leak exited {proc.returncode}: {proc.stderr!r}"


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes())) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def found(secrets: dict[str, str], data: bytes) -> list[str]:
    """The names of the ``secrets`` whose bytes are in ``data``."""
    return [name for name, value in secrets.items() if value.encode() in data]
