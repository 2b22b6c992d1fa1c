"""The files a system install puts on a host, rendered from the packaging templates.

The templates (coresnap/data/packaging/, shipped in the wheel) name the places that depend on
the installation as ``@BINDIR@`` (where coresnapd, coresnap-archive and coronerd are),
``@DUMP_ROOT@`` (the dump root's top directory, writable by coresnapd) and ``@CONF_DIR@``; a
:class:`Layout` says what they are here, :func:`files` renders every file to install.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from coresnap import config
from coresnap.capture import fields, install
from coresnap.store import config as store_config

PACKAGING = resources.files("coresnap") / "data" / "packaging"
HOST_USER = "coresnap"  # runs coresnapd; owns the dump root (dump.user / dump.group)
STORE_USER = "coronerd"  # runs coronerd; owns /var/lib/coronerd
STORE_STATE = Path("/var/lib/coronerd")


@dataclass(frozen=True)
class File:
    """One file to install: where (absolute, on the target host), what, which mode."""

    path: Path
    text: str
    mode: int = 0o644


@dataclass(frozen=True)
class Layout:
    """Where things are on the target host."""

    bindir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    conf_dir: Path = Path("/etc/coresnap")
    unit_dir: Path = Path("/etc/systemd/system")
    sysctl_dir: Path = Path("/etc/sysctl.d")
    dump_root: Path = field(default_factory=lambda: Path(default("dump.root")))

    def placeholders(self) -> dict[str, str]:
        # ReadWritePaths: the dump root's parent (assets, counters and locks live beside it).
        return {"@BINDIR@": str(self.bindir), "@CONF_DIR@": str(self.conf_dir),
                "@DUMP_ROOT@": str(self.dump_root.parent)}  # fmt: skip


def default(name: str) -> str:
    """The default of coresnap.conf setting ``name``."""
    return next(s.default for s in config.SETTINGS if s.name == name)


def template(name: str) -> str:
    """The text of packaging file ``name`` (``systemd/coresnapd.service``)."""
    return (PACKAGING / name).read_text(encoding="utf-8")


def render(name: str, layout: Layout) -> str:
    """Packaging file ``name`` with this layout's paths. Raises ValueError for a placeholder
    left over (a template naming a place the layout does not know)."""
    text = template(name)
    for key, value in layout.placeholders().items():
        text = text.replace(key, value)
    if "@" in text and any(f"@{w}@" in text for w in ("BINDIR", "CONF_DIR", "DUMP_ROOT")):
        raise ValueError(f"{name}: a placeholder is left")
    return text


def sysctl_drop_in(layout: Layout) -> str:
    """The sysctl.d drop-in: what ``coresnap install`` writes for this layout's archive."""
    pattern = fields.pattern(str(layout.bindir / "coresnap-archive"))
    return (f"{install.MARKER}\nkernel.core_pattern = {pattern}\n"
            f"kernel.core_pipe_limit = {install.PIPE_LIMIT}\n")  # fmt: skip


def host_conf(layout: Layout) -> str:
    """The default coresnap.conf, pointing at coroner.cf beside it."""
    text = config.PACKAGED.read_text(encoding="utf-8")
    return text.replace(f"coroner.config = {default('coroner.config')}",
                        f"coroner.config = {layout.conf_dir / 'coroner.cf'}")  # fmt: skip


def store_conf() -> str:
    """coronerd.toml for the unit: SQLite database and blobs in /var/lib/coronerd."""
    return store_config.template({"database.url": f"sqlite:///{STORE_STATE / 'coronerd.db'}",
                                  "blobs.path": str(STORE_STATE / "blobs")})  # fmt: skip


def files(layout: Layout, store: bool) -> list[File]:
    """Every file a system install writes (``store``: coronerd's too), the configuration files
    first. The sysctl drop-in is written by the kernel hook's install (capture/install.py)."""
    out = [
        File(layout.conf_dir / "coresnap.conf", host_conf(layout)),
        File(layout.unit_dir / "coresnapd.service", render("systemd/coresnapd.service", layout)),
    ]
    if store:
        out += [
            File(layout.conf_dir / "coronerd.toml", store_conf(), 0o640),
            File(layout.unit_dir / "coronerd.service", render("systemd/coronerd.service", layout)),
        ]
    return out


def wanted_by(unit_text: str) -> list[str]:
    """The targets of a unit's ``[Install] WantedBy=`` (what ``systemctl enable`` links into)."""
    section, targets = "", []
    for line in unit_text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            targets += line.split("=", 1)[1].split()
    return targets
