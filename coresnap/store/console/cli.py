"""``coronerd user create|grant``: the logic behind the two administration commands."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from sqlalchemy import Engine

from coresnap.errors import StoreError
from coresnap.store.console import users
from coresnap.store.db.engine import upgrade, writing


def _password(path: str | None) -> str:
    if path:
        lines = Path(path).read_text().splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise StoreError("the two passwords differ")
    return first


def run(args: argparse.Namespace, engine: Engine) -> int:
    """Run ``user create`` or ``user grant``; raises StoreError with the reason."""
    upgrade(engine)
    if args.action == "create":
        password = _password(args.password_file)
        with writing(engine.connect()) as conn, conn.begin():
            users.create_user(conn, args.name, password, admin=args.admin)
        print(f"user {args.name} created{' (admin)' if args.admin else ''}")
    else:
        with writing(engine.connect()) as conn, conn.begin():
            users.grant(conn, args.name, args.project)
        print(f"user {args.name} may see project {args.project}")
    return 0
