"""Routing rules ``format.N = <project> <format> /<regex>/``: which project gets a dump."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from coresnap.config import Config
from coresnap.daemon import commands
from coresnap.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    project: str
    format: str
    regex: re.Pattern[str]

    def matches(self, values: Mapping[str, str]) -> bool:
        return bool(self.regex.search(" ".join(commands.expand(self.format, values))))


def parse_rule(text: str, source: str = "format.N") -> Rule:
    """Parse ``<project> <format> /<regex>/``. Raises ConfigError."""
    project, _, rest = text.strip().partition(" ")
    first, last = rest.find("/"), rest.rfind("/")
    if not project or first < 0 or last <= first:
        raise ConfigError(source, f"expected '<project> <format> /<regex>/', got {text!r}")
    fmt = rest[:first].strip()
    commands.check_template(fmt, source)
    try:
        regex = re.compile(rest[first + 1 : last])
    except re.error as e:
        raise ConfigError(source, f"bad regex in {text!r}: {e}") from None
    return Rule(project, fmt, regex)


def rules(cfg: Config) -> list[Rule]:
    """The format.N rules of ``cfg`` in order. Raises ConfigError on a bad one."""
    return [parse_rule(text, f"{cfg.source}: format rule") for text in cfg.numbered("format")]


def project(rule_list: list[Rule], values: Mapping[str, str], default: str) -> str:
    """The project of the first matching rule, else ``default``."""
    for rule in rule_list:
        if rule.matches(values):
            return rule.project
    return default
