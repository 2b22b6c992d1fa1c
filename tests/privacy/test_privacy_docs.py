"""docs/privacy.md shows real output: the example is made again and compared."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.privacy.docs_example import example

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
ADDRESS = re.compile(r"0x[0-9a-f]+")


def block(marker: str) -> str:
    text = DOC.read_text()
    after = text[text.index(f"<!-- {marker}: generated -->") :]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_the_example_is_real(tmp_path: Path) -> None:
    record, view = example(tmp_path)
    assert json.loads(block("privacy record")) == record
    shown = [ADDRESS.sub("0x…", line) for line in block("privacy view").splitlines()]
    assert shown == [ADDRESS.sub("0x…", line) for line in view.splitlines()]


def test_the_default_lists_are_the_ones_documented() -> None:
    from coresnap.capture.policy import LISTS, read_list

    names = ", ".join(f"`{r.pattern}`" for r in read_list(LISTS / "names.txt", "name"))
    assert names in " ".join(DOC.read_text().split())
