"""Regenerate the console screenshots that docs/console.md shows.

    python tools/console_screenshots.py [--out DIR]

Runs tests/console/test_console_screenshots.py (real crashes, a real coronerd, headless
Chromium with JavaScript off) with ``CORESNAP_SCREENSHOTS=DIR`` (docs/console/ by default), then
shrinks the PNGs when the tools are on PATH: ``pngquant`` (a 256-colour palette; the pages are
flat colours and text, so nothing a reader sees changes, and the files get about 3x smaller)
and ``optipng`` (lossless). Without them the PNGs are kept as Chromium wrote them. Look at each
picture before committing it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST = "tests/console/test_console_screenshots.py"


def shrink(png: Path) -> None:
    """Make ``png`` smaller in place with pngquant and optipng, those of them installed."""
    if shutil.which("pngquant"):
        # Exit status 99: the palette would fall below the quality floor; the file is kept.
        cmd = ["pngquant", "--quality", "70-95", "--speed", "1", "--strip", "--force"]
        done = subprocess.run([*cmd, "--output", str(png), str(png)], check=False)
        if done.returncode not in (0, 99):
            raise SystemExit(f"pngquant failed on {png}")
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(png)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    args = parser.parse_args()
    out = args.out.resolve()
    env = {**os.environ, "CORESNAP_SCREENSHOTS": str(out)}
    test = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"]
    if subprocess.run([*test, TEST], cwd=REPO, env=env, check=False).returncode:
        return 1
    if not (shutil.which("pngquant") or shutil.which("optipng")):
        print("pngquant and optipng not found: the PNGs are not shrunk", file=sys.stderr)
    for png in sorted(out.glob("*.png")):
        shrink(png)
        print(f"{png.relative_to(REPO) if png.is_relative_to(REPO) else png}"
              f"  {png.stat().st_size // 1024} KiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
