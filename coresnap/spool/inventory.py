"""Every dump under a dump root, as ``coresnap list`` shows it (stage, flags, exe, time, size)."""

from __future__ import annotations

import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from coresnap.spool.assets import read_metadata
from coresnap.spool.stages import CORE_KEPT, CORE_KEPT_ZST, FAILED_SNAPSHOT, REASON, Spool, Stage

# Which file of a dump is what: (stage, suffix) -> kind ("core", "snapshot", "reason").
FILES = {
    (Stage.PENDING, ""): "core",
    (Stage.SENDING, ""): "snapshot",
    (Stage.COMMITTED, ""): "snapshot",
    (Stage.COMMITTED, CORE_KEPT): "core",
    (Stage.COMMITTED, CORE_KEPT_ZST): "core",
    (Stage.FAILED, ""): "core",
    (Stage.FAILED, FAILED_SNAPSHOT): "snapshot",
    (Stage.FAILED, REASON): "reason",
}
# The stage a dump is shown in: the first of these that holds one of its files.
SHOWN_STAGE = (Stage.FAILED, Stage.SENDING, Stage.PENDING, Stage.COMMITTED)


@dataclass
class Item:
    id: str
    files: dict[Path, str] = field(default_factory=dict)  # path -> kind
    meta: dict = field(default_factory=dict)
    assets: Path | None = None

    @property
    def stage(self) -> Stage:
        stages = {p.parent.name for p in self.files}
        return next(s for s in SHOWN_STAGE if s.value in stages)

    @property
    def flags(self) -> str:
        kinds = set(self.files.values())
        return (("c" if "core" in kinds else "-") + ("s" if "snapshot" in kinds else "-")
                + ("a" if self.assets else "-"))  # fmt: skip

    @property
    def exe(self) -> str:
        exe = self.meta.get("exe") or self.meta.get("exe_path") or self.meta.get("comm") or "?"
        return os.path.basename(str(exe))

    @property
    def time(self) -> float:
        try:
            return float(self.meta["time"])
        except (KeyError, TypeError, ValueError):
            return min(p.stat().st_mtime for p in self.files)

    @property
    def size(self) -> int:
        """Bytes of the core and snapshot files (what the dump costs; assets aside)."""
        return sum(p.stat().st_size for p, kind in self.files.items() if kind != "reason")


def scan(root: str | os.PathLike[str]) -> list[Item]:
    """All dumps with a core or a snapshot under ``root``, oldest first."""
    spool = Spool(root)
    items: dict[str, Item] = {}
    for (stage, suffix), kind in FILES.items():
        try:
            names = os.listdir(spool.dir(stage))
        except FileNotFoundError:
            continue
        for name in names:
            dump_id, _, rest = name.partition(".")
            if ("." + rest if rest else "") == suffix and len(dump_id) == 32:
                items.setdefault(dump_id, Item(dump_id)).files[spool.dir(stage) / name] = kind
    for item in items.values():
        asset = spool.path(Stage.ASSETS, item.id)
        if asset.exists():
            item.assets = asset
            try:
                item.meta = read_metadata(asset)
            except (OSError, tarfile.TarError, KeyError, ValueError):
                item.meta = {}
    found = [i for i in items.values() if any(k != "reason" for k in i.files.values())]
    return sorted(found, key=lambda i: (i.time, float(i.meta.get("archived_at") or 0), i.id))


def find(root: str | os.PathLike[str], prefix: str) -> Item:
    """The one dump whose id starts with ``prefix``. Raises KeyError (none or ambiguous)."""
    matches = [i for i in scan(root) if i.id.startswith(prefix.lower())]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} dumps match {prefix!r}" if matches else
                       f"no dump {prefix!r}")  # fmt: skip
    return matches[0]


def human_size(n: float) -> str:
    """The seed's sizes: ``18.81kB``, ``994.93mB`` (powers of 1024)."""
    for unit in ("B", "kB", "mB", "gB"):
        if n < 1024 or unit == "gB":
            return f"{n:.2f}{unit}"
        n /= 1024
    return f"{n:.2f}tB"


EXE_WIDTH = (8, 32)  # the seed's 8 columns at least; longer names are cut with … past 32


def exe_width(items: list[Item]) -> int:
    """The executable column's width for ``items``: every name fits, within EXE_WIDTH."""
    low, high = EXE_WIDTH
    return max([low, *(min(len(i.exe), high) for i in items)])


def line(item: Item, width: int = EXE_WIDTH[0]) -> str:
    """One ``coresnap list`` line, in the seed's columns (``width``: the executable column)."""
    when = time.ctime(item.time)
    exe = item.exe if len(item.exe) <= width else item.exe[: width - 1] + "…"
    return (f"{item.stage.value:>10}/{item.id[:12]}... {item.flags} {exe:<{width}} {when}"
            f"{human_size(item.size):>11}")  # fmt: skip


def totals(items: list[Item], dropped: int = 0) -> str:
    """The per-stage totals line: ``[pending]/49O/994.93mB [sending]/30O/563.54kB ``."""
    parts = []
    for stage in (Stage.PENDING, Stage.SENDING, Stage.FAILED, Stage.COMMITTED):
        group = [i for i in items if i.stage is stage]
        if group:
            parts.append(f"[{stage.value}]/{len(group)}O/{human_size(sum(i.size for i in group))} ")
    if dropped:
        parts.append(f"[dropped]/{dropped}O ")
    return "".join(parts)
