"""coroner.cf parsing (seed format), filters and the list rendering helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresnap.cli.coroner import parse_filter
from coresnap.client import cf, render
from coresnap.errors import ConfigError, QueryError

SEED = """[universe]
name = backtrace
write = https://faults.backtrace.io:6098
read = faults.backtrace.io:4097
read.ssl.enabled = true
[token]
blackhole = e5f1a3a23f756f89cfd9f363647291fd9ff1d43f179e959d3aa2aed78af81663
"""


def test_seed_file() -> None:
    conf = cf.parse(SEED)
    assert conf.name == "backtrace"
    assert conf.write.url == "https://faults.backtrace.io:6098"
    assert conf.read.url == "https://faults.backtrace.io:4097"
    assert conf.token("blackhole").startswith("e5f1a3a2")
    assert conf.read_token("blackhole") == conf.token("blackhole")


def test_seed_000_without_sections() -> None:
    text = "\n".join(line for line in SEED.splitlines() if not line.startswith("["))
    conf = cf.parse(text)
    assert conf.read.url == "https://faults.backtrace.io:4097"
    assert set(conf.tokens) == {"blackhole"}


def test_plain_http_and_loopback() -> None:
    conf = cf.parse(
        "[universe]\nwrite = 127.0.0.1:6098\nread = example.org:80\n"
        "read.ssl.enabled = false\n[token]\nt = x\n"
    )
    assert conf.write.url == "http://127.0.0.1:6098"
    assert conf.read.url == "http://example.org:80"
    assert cf.parse("[universe]\nwrite = example.org:1\n").write.url == "https://example.org:1"


@pytest.mark.parametrize(
    "text",
    [
        "[universe]\nname = x\n",
        "[bogus]\n",
        "[universe]\nwrite\n",
        "[universe]\nwrite = ftp://x\n",
        "[universe]\nwrite = h:1\nwrite.ssl.enabled = maybe\n",
    ],
)
def test_bad_files_name_the_problem(text: str) -> None:
    with pytest.raises(ConfigError):
        cf.parse(text, "test.cf")


def test_missing_token_names_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: blackhole"):
        cf.parse(SEED).token("nope")


def test_search_order(tmp_path: Path) -> None:
    path = tmp_path / "c.cf"
    path.write_text(SEED)
    assert cf.load(path).source == str(path)
    with pytest.raises(ConfigError):
        cf.load(tmp_path / "missing.cf")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("application=simple", ("application", "equal", "simple")),
        ("a=b=c", ("a", "equal", "b=c")),
        ("load,greater-than,3", ("load", "greater-than", "3")),
        ("name,regular-expression,^a,b$", ("name", "regular-expression", "^a,b$")),
        ("region,is-set", ("region", "is-set", None)),
    ],
)
def test_filters(text: str, expected: tuple[str, str, str | None]) -> None:
    f = parse_filter(text)
    assert (f["attribute"], f["op"], f["value"]) == expected


def test_bad_filter() -> None:
    with pytest.raises(QueryError):
        parse_filter("application")


def test_histogram_and_bucket_rows() -> None:
    assert render.histogram([0] * 53 + [20]) == " " * 53 + "█"
    assert render.histogram([0, 1, 8]) == " ▁█"
    row = render._bucket_row("simple", 20, 20)
    assert row == "      simple" + " " * 40 + "20 100.00% " + "█" * 15
