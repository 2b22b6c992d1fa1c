"""``coronerd``: the object store server and its administration commands.

coronerd init -c coronerd.toml [--database URL] [--blobs DIR]   write config, create schema
coronerd serve -c coronerd.toml [--host H] [--port P]           run the HTTP service
coronerd project create|list|delete -c … [NAME] [--yes]         add, list, delete projects
coronerd token create -c … PROJECT NAME [--scope submit,read,admin] print a new token (once)
coronerd token list|revoke -c … [PROJECT] [NAME]                 list tokens, revoke one
coronerd retention -c …                                         apply retention now
coronerd regroup -c … [--project P] [--dry-run] [--batch N] [--json]  group stored objects again
coronerd user create -c … NAME [--admin] [--password-file F]    add a console user
coronerd user grant|revoke -c … NAME PROJECT                    let a user see a project, or not
coronerd user list|delete -c … [NAME]                           list users, delete one
coronerd openapi                                                print the OpenAPI document
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coresnap import __version__
from coresnap.cli.progress import progress
from coresnap.errors import ConfigError, CoresnapError
from coresnap.store import auth, config, retention
from coresnap.store.db.engine import make_engine, upgrade, writing

SEARCH = (Path("/etc/coresnap/coronerd.toml"), Path("/usr/local/etc/coronerd.toml"))


def _config(args: argparse.Namespace) -> config.StoreConfig:
    if args.config:
        return config.load(Path(args.config))
    for path in SEARCH:
        if path.exists():
            return config.load(path)
    raise ConfigError(
        "coronerd", f"no config file (-c FILE, or one of {', '.join(map(str, SEARCH))})"
    )


def _init(args: argparse.Namespace) -> int:
    path = Path(args.config or SEARCH[0])
    if not path.exists():
        values = {}
        if args.database:
            values["database.url"] = args.database
        if args.blobs:
            values["blobs.path"] = args.blobs
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.template(values))
        print(f"wrote {path}")
    cfg = config.load(path)
    upgrade(make_engine(cfg.database_url))
    print(f"database ready: {cfg.database_url.split('@')[-1]}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from coresnap.store.app import create_app

    cfg = _config(args)
    app = create_app(cfg)
    host = args.host or cfg["server.host"]
    port = cfg["server.port"] if args.port is None else args.port
    uvicorn.run(app, host=host, port=port, log_level=args.log_level, access_log=False)
    return 0


def _project(args: argparse.Namespace) -> int:
    engine = make_engine(_config(args).database_url)
    upgrade(engine)
    with writing(engine.connect()) as conn, conn.begin():
        auth.create_project(conn, args.name)
    print(f"project {args.name} created")
    return 0


def _when(t: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(t)))  # type: ignore[arg-type]


def _admin(args: argparse.Namespace) -> int:
    """``project list|delete``, ``token list|revoke``, ``user list|delete|revoke``."""
    from coresnap.store import admin
    from coresnap.store.blobs import open_blobs

    cfg = _config(args)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    what = (args.command, args.action)
    if what == ("project", "delete"):
        if not args.yes:
            raise CoresnapError(f"deleting {args.name} deletes every object in it: "
                              "add --yes to do it")  # fmt: skip
        removed = admin.delete_project(engine, open_blobs(cfg), args.name)
        print(f"project {args.name} deleted ({removed} objects, its groups and tokens)")
        return 0
    with writing(engine.connect()) as conn, conn.begin():
        if what == ("project", "list"):
            rows = admin.list_projects(conn)
            _table(["project", "objects", "groups", "tokens", "created"],
                   [[r["name"], r["objects"], r["groups"], r["tokens"], _when(r["created"])]
                    for r in rows])  # fmt: skip
        elif what == ("token", "list"):
            rows = admin.list_tokens(conn, args.project)
            _table(["project", "token", "scopes", "created"],
                   [[r["project"], r["name"], r["scopes"], _when(r["created"])] for r in rows])  # fmt: skip
        elif what == ("token", "revoke"):
            admin.revoke_token(conn, args.project, args.name)
            print(f"token {args.name} of {args.project} revoked")
        elif what == ("user", "list"):
            rows = admin.list_users(conn)
            _table(["user", "admin", "projects", "created"],
                   [[r["name"], "yes" if r["admin"] else "no",
                     "(all)" if r["admin"] else ",".join(r["projects"]) or "-",  # type: ignore[arg-type]
                     _when(r["created"])] for r in rows])  # fmt: skip
        elif what == ("user", "delete"):
            admin.delete_user(conn, args.name)
            print(f"user {args.name} deleted")
        else:
            admin.revoke_grant(conn, args.name, args.project)
            print(f"user {args.name} may no longer see project {args.project}")
    return 0


def _table(head: list[str], rows: list[list[object]]) -> None:
    """Columns as wide as their widest cell; a line saying so when there is no row."""
    if not rows:
        print(f"no {head[0]}s")
        return
    cells = [head, *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _token(args: argparse.Namespace) -> int:
    engine = make_engine(_config(args).database_url)
    upgrade(engine)
    scopes = {s.strip() for s in args.scope.split(",") if s.strip()}
    with writing(engine.connect()) as conn, conn.begin():
        token = auth.create_token(conn, args.project, args.name, scopes)
    print(token)
    print(
        f"(token {args.name} of {args.project}: {','.join(sorted(scopes))}; shown only once)",
        file=sys.stderr,
    )
    return 0


def _retention(args: argparse.Namespace) -> int:
    from coresnap.store.blobs import open_blobs

    cfg = _config(args)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    with progress("retention") as step:
        removed = retention.apply(engine, open_blobs(cfg), cfg, progress=step)
    print(f"retention: removed {removed} objects")
    return 0


def _regroup(args: argparse.Namespace) -> int:
    from coresnap.store import regroup
    from coresnap.store.blobs import open_blobs
    from coresnap.store.regroup import report

    cfg = _config(args)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    blobs = open_blobs(cfg)
    with progress("regroup") as step:
        for project in regroup.project_ids(engine, args.project):
            todo = regroup.make_plan(engine, blobs, cfg, project, step)
            if args.json:
                print(json.dumps(report.as_json(todo), sort_keys=True), flush=True)
            else:
                print("\n".join(report.lines(todo)), flush=True)
            if not args.dry_run and (todo.parts or todo.refresh or todo.reading.taught):
                regroup.carry_out(engine, todo, args.batch, step)
                if not args.json:
                    print(f"  done: {report.totals(todo)}", flush=True)
    return 0


def _user(args: argparse.Namespace) -> int:
    from coresnap.store.console import cli

    return cli.run(args, make_engine(_config(args).database_url))


def _openapi(_args: argparse.Namespace) -> int:
    from coresnap.store.openapi import document

    print(json.dumps(document(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coronerd", description="The coresnap object store.")
    parser.add_argument("-c", "--config", help="coronerd.toml (default: /etc/coresnap/…)")
    parser.add_argument("--version", action="version", version=f"coronerd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("init", help="write a config file (if missing) and create the schema")
    p.add_argument("--database", help="database URL for a new config")
    p.add_argument("--blobs", help="blob directory for a new config")
    p.set_defaults(run=_init)
    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="warning")
    p.set_defaults(run=_serve)
    p = sub.add_parser("project", help="manage projects")
    psub = p.add_subparsers(dest="action", required=True)
    c = psub.add_parser("create", help="create a project")
    c.add_argument("name")
    c.set_defaults(run=_project)
    psub.add_parser("list", help="list projects and what they hold").set_defaults(run=_admin)
    c = psub.add_parser("delete", help="delete a project, its objects, groups and tokens")
    c.add_argument("name")
    c.add_argument("--yes", action="store_true", help="really (every object goes)")
    c.set_defaults(run=_admin)
    p = sub.add_parser("token", help="manage tokens")
    tsub = p.add_subparsers(dest="action", required=True)
    c = tsub.add_parser("create", help="create a token and print it (once)")
    c.add_argument("project")
    c.add_argument("name")
    c.add_argument(
        "--scope", default="submit", help="comma list of submit, read, admin (alert targets)"
    )
    c.set_defaults(run=_token)
    c = tsub.add_parser("list", help="list tokens (names and scopes; never their values)")
    c.add_argument("project", nargs="?", help="only this project's")
    c.set_defaults(run=_admin)
    for action in ("revoke", "delete"):
        c = tsub.add_parser(action, help="revoke a token: it no longer authenticates")
        c.add_argument("project")
        c.add_argument("name")
        c.set_defaults(run=_admin, action="revoke")
    p = sub.add_parser("retention", help="delete objects past the retention limits now")
    p.set_defaults(run=_retention)
    p = sub.add_parser("regroup", help="group stored objects again by this coronerd's fingerprint")
    p.add_argument("--project", help="only this project (default: every project)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument(
        "--batch", type=int, default=500, help="objects moved per transaction (default 500)"
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON, one per project")
    p.set_defaults(run=_regroup)
    p = sub.add_parser("user", help="manage console users (docs/console.md)")
    usub = p.add_subparsers(dest="action", required=True)
    c = usub.add_parser("create", help="create a user (password prompted or read from a file)")
    c.add_argument("name")
    c.add_argument("--admin", action="store_true", help="may see every project")
    c.add_argument("--password-file", help="read the password from this file's first line")
    c.set_defaults(run=_user)
    c = usub.add_parser("grant", help="let a user see and change a project")
    c.add_argument("name")
    c.add_argument("project")
    c.set_defaults(run=_user)
    c = usub.add_parser("revoke", help="undo a grant: the user no longer sees the project")
    c.add_argument("name")
    c.add_argument("project")
    c.set_defaults(run=_admin)
    usub.add_parser("list", help="list users and the projects they see").set_defaults(run=_admin)
    c = usub.add_parser("delete", help="delete a user (and their sessions)")
    c.add_argument("name")
    c.set_defaults(run=_admin)
    p = sub.add_parser("openapi", help="print the OpenAPI document")
    p.set_defaults(run=_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CoresnapError as e:
        print(f"coronerd {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
