"""What the analysis tests share: a crashed, snapshotted and analyzed program."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.crashes import Crash

O0 = ("-g", "-O0")


@dataclass
class Analyzed:
    crash: Crash
    snapshot: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return self.snapshot["classification"]["labels"]

    def facts(self, label: str) -> dict[str, Any]:
        for e in self.snapshot["classification"]["evidence"]:
            if e["label"] == label:
                return e["facts"]
        raise AssertionError(f"no evidence for {label}: {self.snapshot['classification']}")

    @property
    def fingerprint(self) -> str:
        return self.snapshot["fingerprint"]["hash"]


Factory = Callable[..., Analyzed]
