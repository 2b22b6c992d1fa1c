"""``coroner symbols upload PROJECT FILE...`` and ``coroner symbols list PROJECT``: debug files.

A stripped program's crashes name no function; the store names them from the debug file of
their build id (the unstripped executable, or ``objcopy --only-keep-debug``'s ``.debug`` file).
"""

from __future__ import annotations

import argparse
from typing import Any

from coresnap.cli.progress import progress
from coresnap.client import api, cf, render


def add_parser(sub: Any) -> None:
    """Add ``symbols upload`` and ``symbols list`` to coroner's subcommands ``sub``."""
    p = sub.add_parser("symbols", help="debug files: upload, list")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("upload", help="upload debug files (the build id is read from each)")
    up.add_argument("project")
    up.add_argument("files", nargs="+", metavar="FILE")
    up.set_defaults(run=_upload)
    ls = actions.add_parser("list", help="the project's debug files")
    ls.add_argument("project")
    ls.set_defaults(run=_list)
    for q in (up, ls):
        q.add_argument("--token", help="token name in coroner.cf (default: the project's)")


def _upload(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    with progress("coroner symbols upload", lines=False) as step:  # a bar on a terminal
        for path in args.files:
            r = api.upload_debug_file(conf, args.project, path, args.token, progress=step)
            print(f"{r['build_id']}  {r['size']:>10}  {path}")
    return 0


def _list(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    rows = api.read_json(conf, args.project, "symbols", args.token)["debug_files"]
    print(f"{'build id':<40}  {'size':>10}  {'uploaded':<24}  name")
    for r in rows:
        print(
            f"{r['build_id']:<40}  {r['size']:>10}  {render.date(r['uploaded']):<24}  {r['name']}"
        )
    return 0
