"""``coresnapd [-f] [-c coresnap.conf] [-r dump.root]``: the host daemon (see docs/pipeline.md)."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Sequence

from coresnap import __version__, config
from coresnap.daemon.service import Daemon
from coresnap.errors import CoresnapError


def _logger(foreground: bool, log_file: str) -> logging.Logger:
    # The same line shape as syslog's (and the archive tool's log.file lines).
    line = logging.Formatter(
        f"%(asctime)s {os.uname().nodename} coresnapd[%(process)d]: %(message)s",
        datefmt="%b %d %H:%M:%S",
    )
    log = logging.getLogger("coresnapd")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler: logging.Handler
    if foreground or not os.path.exists("/dev/log"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(line)
    else:
        handler = logging.handlers.SysLogHandler("/dev/log")
        handler.setFormatter(logging.Formatter("coresnapd[%(process)d]: %(message)s"))
    log.addHandler(handler)
    if log_file:
        try:
            file_handler = logging.FileHandler(log_file)
        except OSError as e:  # e.g. created by the archive tool (root) before we ran
            log.warning(f"log.file {log_file}: {e.strerror}; logging without it")
        else:
            file_handler.setFormatter(line)
            log.addHandler(file_handler)
    return log


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coresnapd", description=__doc__)
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="log to stderr; step commands inherit stdout/stderr")  # fmt: skip
    parser.add_argument("-c", "--config", help="coresnap.conf to use (else the search order)")
    parser.add_argument("-r", "--dump-root", help="override dump.root")
    parser.add_argument("--version", action="version", version=f"coresnapd {__version__}")
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGUSR1"):  # kill -USR1 prints every thread's stack to stderr
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        cfg = config.load(args.config)
        # The step commands (coresnap snapshot applies the privacy policy) read the same file.
        os.environ[config.ENV_VAR] = os.path.abspath(cfg.source)
        log = _logger(args.foreground, cfg["log.file"])
        root = args.dump_root or cfg["dump.root"]
        return Daemon(cfg, root, log, inherit=args.foreground).run()
    except CoresnapError as e:
        print(f"coresnapd: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"coresnapd: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
