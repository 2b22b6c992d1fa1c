"""Scrape a /metrics endpoint over HTTP and read it with prometheus-client's own parser."""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from coresnap.capture import archive, fields


@dataclass
class Scrape:
    """The samples of one scrape: ``value(name, **labels)`` sums the matching samples."""

    text: str
    types: dict[str, str]
    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            v
            for n, lab, v in self.samples
            if n == name and all(lab.get(k) == w for k, w in labels.items())
        )

    def labels(self, name: str) -> list[dict[str, str]]:
        return [lab for n, lab, _ in self.samples if n == name]


def scrape(url: str) -> Scrape:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    types, samples = {}, []
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        samples += [(s.name, dict(s.labels), s.value) for s in family.samples]
    return Scrape(response.text, types, samples)


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def replay_crash(root: Path, core: Path, pid: int, signal: int, exe: str) -> int:
    """Archive a real core as if the kernel had piped it, with its real signal and ``exe``."""
    values = {"pid": pid, "ns_pid": pid, "tid": pid, "ns_tid": pid, "signal": signal,
              "time": int(time.time()), "core_limit": fields.RLIM_INFINITY, "hostname": "h",
              "uid": 0, "gid": 0, "dumpable": 1, "comm": os.path.basename(exe)[:15],
              "exe_path": exe.replace("/", "!")}  # fmt: skip
    argv = ["-r", str(root), *(str(values[f.name]) for f in fields.FIELDS)]
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        return archive.main(argv, io.BytesIO(core.read_bytes()))
