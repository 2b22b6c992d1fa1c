"""The options every host command shares: which coresnap.conf, which dump root."""

from __future__ import annotations

import argparse

from coresnap import config


def add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", help="coresnap.conf to use (else the search order)")
    parser.add_argument("-r", "--dump-root", help="the dump root (default: dump.root)")


def load(args: argparse.Namespace) -> tuple[config.Config, str]:
    """(settings, dump root) for a host command. Raises ConfigError."""
    cfg = config.load(args.config)
    return cfg, args.dump_root or cfg["dump.root"]
