"""``coroner``: the object store's command-line client (seed 000/002).

coroner [-c coroner.cf] put <project> <token-name> <file>
coroner list <project> [--filter=attr=value | --filter=attr,operator,value]… [--factor=attr]
             [--age=1w] [-R] [-H N] [-i N] [--json]
coroner get <project> <object> [-o FILE]     (shows it; -o saves it)
coroner view <project> <object>
coroner summary <project>
coroner describe <project>
coroner symbols upload <project> <file>...  (debug files of stripped builds, by build id)
coroner symbols list <project>
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from coresnap import __version__
from coresnap.cli import coroner_symbols
from coresnap.client import api, cf, render
from coresnap.errors import CoresnapError
from coresnap.querylang import parse_filter


def _put(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    oid = api.put_snapshot(conf, args.project, args.token_name, args.file)
    print(oid)
    return 0


def _list(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    body = render.list_query(
        [parse_filter(f) for f in args.filter], args.factor, args.age, args.R, args.H, args.i
    )
    result = api.query(conf, args.project, body, args.token)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(render.render_list(result))
    return 0


def _get(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    """Save the snapshot with ``--output FILE``; else show it (the seed opens it in a viewer)."""
    data = api.get_object(conf, args.project, args.object, args.token)
    if not args.output:
        return _show(data)
    out = Path(args.output)
    out.write_bytes(data)
    print(f"{out} ({len(data)} bytes)")
    return 0


def _view(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    return _show(api.get_object(conf, args.project, args.object, args.token))


def _show(data: bytes) -> int:
    from rich.console import Console

    from coresnap.snapshot.format import load
    from coresnap.snapshot.view import show

    show(load(data), Console(highlight=False, soft_wrap=False))
    return 0


def _summary(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    s = api.read_json(conf, args.project, "summary", args.token)
    groups = " ".join(f"{k}={v}" for k, v in sorted(s["groups"].items())) or "none"
    print(f"Project: {s['project']}")
    print(f"  Objects: {s['objects']} ({s['blobs_kept']} snapshots kept, {s['bytes']} bytes)")
    if s["first"] is not None:
        print(f"  Date: {render.date(s['first'])} - {render.date(s['last'])}")
    print(f"  Groups: {groups}")
    return 0


def _describe(args: argparse.Namespace, conf: cf.CoronerConfig) -> int:
    rows = api.read_json(conf, args.project, "attributes", args.token)["attributes"]
    print(f"{'attribute':<40} {'objects':>8} {'values':>8}  type")
    for a in rows:
        kind = "number" if a["numeric"] else "string"
        print(f"{a['name']:<40} {a['objects']:>8} {a['values']:>8}  {kind}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coroner", description="Query the coresnap object store.")
    parser.add_argument(
        "-c",
        "--config",
        help="coroner.cf (default: /etc/coresnap/coroner.cf, /usr/local/etc/coroner.cf)",
    )
    parser.add_argument("--version", action="version", version=f"coroner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("put", help="upload a snapshot")
    p.add_argument("project")
    p.add_argument("token_name", metavar="token-name")
    p.add_argument("file")
    p.set_defaults(run=_put)
    p = sub.add_parser("list", help="list groups of objects")
    p.add_argument("project")
    p.add_argument("--filter", action="append", default=[], help="attr=value or attr,op,value")
    p.add_argument("--factor", default="fingerprint", help="group by this attribute")
    p.add_argument("--age", help="time window: 1h, 3d, 1w")
    p.add_argument("-R", action="store_true", help="most recent first")
    p.add_argument("-H", type=int, default=10, metavar="N", help="groups to show")
    p.add_argument("-i", type=int, default=3, metavar="N", help="objects to show per group")
    p.add_argument("--json", action="store_true", help="print the store's JSON answer")
    p.set_defaults(run=_list)
    for name, run, text in (
        ("get", _get, "show a snapshot (-o FILE: save it)"),
        ("view", _view, "show a snapshot"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("project")
        p.add_argument("object")
        if name == "get":
            p.add_argument("-o", "--output", metavar="FILE", help="save it here (default: show it)")
        p.set_defaults(run=run)
    for name, run, text in (
        ("summary", _summary, "project totals"),
        ("describe", _describe, "attribute catalogue"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("project")
        p.set_defaults(run=run)
    for p in sub.choices.values():
        if p.prog.split()[-1] != "put":
            p.add_argument("--token", help="token name in coroner.cf (default: the project's)")
    coroner_symbols.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args, cf.load(args.config)))
    except CoresnapError as e:
        print(f"coroner {args.command}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
