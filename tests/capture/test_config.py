"""coresnap.conf: declared once, documented, found in the seeds' search order."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresnap import config
from coresnap.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert config.render_markdown() in doc
    for setting in config.SETTINGS:
        assert f"`{setting.name}`" in doc


def test_packaged_default_is_generated_from_the_table() -> None:
    assert config.PACKAGED.read_text() == config.render_conf()
    parsed = config.parse_text(config.render_conf(), "packaged")
    for setting in config.SETTINGS:
        if not setting.name.endswith(".N"):
            assert parsed[setting.name] == setting.parse(setting.default)


def test_search_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config.SEARCH_PATH[:2] == (
        Path("/etc/coresnap/coresnap.conf"),
        Path("/usr/local/etc/coresnap/coresnap.conf"),
    )
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    expected = next((p for p in config.SEARCH_PATH if p.is_file()), config.PACKAGED)
    assert config.find() == expected
    mine = tmp_path / "c.conf"
    mine.write_text("dump.root = /x\n")
    monkeypatch.setenv(config.ENV_VAR, str(mine))
    assert config.load()["dump.root"] == "/x"
    assert config.load(tmp_path / "c.conf").source == str(mine)


def test_values_parse() -> None:
    cfg = config.parse_text(
        "dump.max_size = 1.5g\npurge.age = 2d\nratelimit.exe = 5/10s\ndump.mode = 0600\n"
        "format.2 = b %e /y/\nformat.10 = c %e /z/\nformat.1 = a %e /x/\n",
        "t",
    )
    assert cfg["dump.max_size"] == int(1.5 * (1 << 30))
    assert cfg["purge.age"] == 2 * 86400
    assert cfg["ratelimit.exe"] == (5, 10.0)
    assert cfg["dump.mode"] == 0o600
    assert cfg.numbered("format") == ["a %e /x/", "b %e /y/", "c %e /z/"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("nope = 1\n", "unknown setting"),
        ("dump.quota = 150\n", "dump.quota"),
        ("just words\n", "t:1"),
        ("retention.core = shred\n", "retention.core"),
    ],  # fmt: skip
)
def test_errors_name_the_source(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse_text(text, "t")
    assert where in str(e.value)
