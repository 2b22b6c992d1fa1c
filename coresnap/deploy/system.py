"""``coresnap install --system`` / ``uninstall --system``: users, units, configuration and the
kernel hook, and a manifest of what was added so that uninstall removes exactly that.

Install, in order: the ``coresnap`` user and group (``coronerd`` with ``--store``) unless they
exist; the dump root (owned by coresnap); the files of :func:`layout.files` (a configuration
file that exists is kept, not replaced); each unit enabled the way ``systemctl enable`` does it
(a link in ``<target>.wants/``); the kernel hook (capture/install.py: saves the previous
core_pattern, writes the sysctl drop-in). Every step is recorded in ``MANIFEST`` as it is done.
On a host booted with systemd the units are then started. Uninstall undoes the manifest in
reverse: stops the units, restores the hook, removes links, files (unless edited since), the
directories it made (the dump root only when it holds no dump, or with ``purge``) and users.

``destdir`` puts every file under a directory instead of ``/`` (users and the kernel hook stay
real): a staging tree for packagers and tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from coresnap.capture import install
from coresnap.deploy.layout import HOST_USER, STORE_STATE, STORE_USER, Layout, files, wanted_by
from coresnap.spool import inventory

MANIFEST = Path("/var/lib/coresnap/installed.json")
NOLOGIN = "/usr/sbin/nologin"


def booted_with_systemd() -> bool:
    """sd_booted(3): /run/systemd/system exists only when systemd is PID 1."""
    return os.path.isdir("/run/systemd/system")


class _Record:
    """The manifest, written after every step (a failed install can still be undone)."""

    def __init__(self, path: Path, layout: Layout, destdir: Path) -> None:
        self.path = path
        self.data: dict = {"destdir": str(destdir), "bindir": str(layout.bindir), "users": [],
                           "dirs": [], "files": {}, "links": [], "units": [], "hook": None}  # fmt: skip
        missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir()
            self.data["dirs"].append(str(p))

    def add(self, key: str, value: object) -> None:
        if isinstance(self.data[key], list):
            self.data[key].append(value)
        elif isinstance(self.data[key], dict):
            self.data[key].update(value)
        else:
            self.data[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.path)


def _under(destdir: Path, path: Path) -> Path:
    return destdir / path.relative_to("/")


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _mkdirs(path: Path, record: _Record) -> None:
    """``mkdir -p``, recording each directory made (outermost first)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir()
        record.add("dirs", str(p))


def install_system(layout: Layout, store: bool = False, destdir: Path = Path("/"),
                   start: bool = True) -> list[str]:  # fmt: skip
    """Install coresnap on this host (see the module). Returns report lines.
    Raises InstallError (already installed, a unit file that is not ours, a failing useradd or
    hook), OSError."""
    manifest = _under(destdir, MANIFEST)
    if manifest.exists():
        raise install.InstallError(f"already installed ({manifest}): coresnap uninstall --system "
                                   "first")  # fmt: skip
    to_write = files(layout, store)
    for f in to_write:
        target = _under(destdir, f.path)
        if f.path.suffix == ".service" and target.exists():
            raise install.InstallError(f"{target} exists and is not coresnap's install: remove it "
                                       "or uninstall what put it there")  # fmt: skip
    lines: list[str] = []
    record = _Record(manifest, layout, destdir)
    for user, home in ((HOST_USER, layout.dump_root.parent), (STORE_USER, STORE_STATE))[
        : 1 + store
    ]:
        if _user_exists(user):
            lines.append(f"user {user} exists: used as it is")
            continue
        _run(["useradd", "--system", "--user-group", "--home-dir", str(home), "--no-create-home",
              "--shell", NOLOGIN, "--comment", f"coresnap ({user})", user])  # fmt: skip
        record.add("users", user)
        lines.append(f"created user and group {user}")
    owner = pwd.getpwnam(HOST_USER)
    root = _under(destdir, layout.dump_root)
    _mkdirs(root, record)
    for d in (root, root.parent):
        os.chown(d, owner.pw_uid, owner.pw_gid)
    os.chmod(root.parent, 0o750)
    lines.append(f"dump root {layout.dump_root} (owner {HOST_USER})")
    for f in to_write:
        target = _under(destdir, f.path)
        if target.exists():
            lines.append(f"kept {f.path} (exists)")
            continue
        _mkdirs(target.parent, record)
        target.write_text(f.text)
        os.chmod(target, f.mode)
        if f.path.name == "coronerd.toml":  # readable by coronerd, not by every user (secrets)
            os.chown(target, 0, pwd.getpwnam(STORE_USER).pw_gid)
        record.add("files", {str(target): _sha(f.text)})
        lines.append(f"wrote {f.path}")
        if f.path.suffix == ".service":
            _enable(destdir, layout, f.path.name, f.text, record)
            lines.append(f"enabled {f.path.name}")
    _mkdirs(_under(destdir, layout.sysctl_dir), record)
    hook = install.install(str(root), archive=str(layout.bindir / "coresnap-archive"),
                           sysctl_file=_under(destdir, layout.sysctl_dir / "50-coresnap.conf"),
                           root_option=False)  # fmt: skip
    record.add("hook", str(root))
    lines += hook.lines
    if start and destdir == Path("/") and booted_with_systemd():
        _run(["systemctl", "daemon-reload"])
        _run(["systemctl", "start", *record.data["units"]])
        lines.append(f"started {' '.join(record.data['units'])}")
    elif start:
        lines.append("not started (no systemd running here): start "
                     f"{' '.join(record.data['units'])} with your service manager")  # fmt: skip
    lines.append(f"manifest: {manifest} (coresnap uninstall --system removes all of it)")
    return lines


def _enable(destdir: Path, layout: Layout, unit: str, text: str, record: _Record) -> None:
    for target in wanted_by(text):
        link = _under(destdir, layout.unit_dir / f"{target}.wants" / unit)
        _mkdirs(link.parent, record)
        link.unlink(missing_ok=True)
        link.symlink_to(layout.unit_dir / unit)
        record.add("links", str(link))
    record.add("units", unit)


def uninstall_system(destdir: Path = Path("/"), purge: bool = False) -> list[str]:
    """Remove what :func:`install_system` recorded. Returns report lines.
    Raises InstallError (no manifest), OSError."""
    manifest = _under(destdir, MANIFEST)
    if not manifest.exists():
        raise install.InstallError(f"no {manifest}: nothing installed by coresnap install --system")
    data = json.loads(manifest.read_text())
    lines: list[str] = []
    if data["units"] and destdir == Path("/") and booted_with_systemd():
        subprocess.run(["systemctl", "stop", *data["units"]], check=False)
        lines.append(f"stopped {' '.join(data['units'])}")
    if data["hook"]:
        try:
            lines += install.uninstall(data["hook"], sysctl_file=None).lines
        except install.InstallError as e:
            lines.append(f"kernel hook: {e}")
    for link in reversed(data["links"]):
        Path(link).unlink(missing_ok=True)
    for path, sha in data["files"].items():
        p = Path(path)
        if p.exists() and _sha(p.read_bytes()) != sha:
            lines.append(f"kept {path}: changed since install (remove it by hand)")
        elif p.exists():
            p.unlink()
            lines.append(f"removed {path}")
    root = Path(data["hook"]) if data["hook"] else None
    made = [Path(d) for d in data["dirs"]]
    held = len(inventory.scan(root)) if root is not None and root.exists() else 0
    keep = root is not None and held > 0 and not purge
    if keep:
        lines.append(f"kept {root}: it holds {held} dumps (--purge removes them)")
    elif root is not None and root in made and root.exists():
        shutil.rmtree(root)
        lines.append(f"removed {root}")
    state = _under(destdir, STORE_STATE)
    if "coronerd.service" in data["units"] and state.exists():
        if purge:
            shutil.rmtree(state)
            lines.append(f"removed {STORE_STATE} (the store's database and blobs)")
        else:
            lines.append(f"kept {STORE_STATE}: the store's data (--purge removes it)")
    manifest.unlink()
    for d in reversed(made):
        if d != root and not (keep and root is not None and d in root.parents):
            _rmdir(d)
    for user in reversed(data["users"]):
        _run(["userdel", user])
        lines.append(f"removed user and group {user}")
    if destdir == Path("/") and booted_with_systemd():
        subprocess.run(["systemctl", "daemon-reload"], check=False)
    return lines


def _rmdir(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:  # not empty (someone else's files), or gone
        pass


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise install.InstallError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
