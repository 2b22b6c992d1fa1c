"""The documented contracts match the code: docs/openapi.json and the settings in docs/store.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from coresnap.store.config import SETTINGS
from coresnap.store.openapi import document
from tests.store.coronerd_server import Server

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_openapi_json_is_generated_from_the_app() -> None:
    committed = json.loads((DOCS / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(document())), (
        "docs/openapi.json is stale: coronerd openapi > docs/openapi.json"
    )


def test_server_serves_the_same_openapi(store: Server) -> None:
    served = httpx.get(f"{store.url}/openapi.json").json()
    assert served["paths"].keys() == document()["paths"].keys()


def test_every_setting_is_documented() -> None:
    text = (DOCS / "store.md").read_text()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in text]
    assert not missing, f"settings not in docs/store.md: {missing}"


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "coronerd.toml"
    run = [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(cfg)]
    assert subprocess.run([*run, "init"], capture_output=True).returncode == 0
    assert (tmp_path / "coronerd.db").exists()
    assert subprocess.run([*run, "project", "create", "blackhole"]).returncode == 0
    token = subprocess.run(
        [*run, "token", "create", "blackhole", "blackhole", "--scope", "submit,read"],
        capture_output=True,
        text=True,
    )
    assert token.returncode == 0 and len(token.stdout.strip()) == 64
    again = subprocess.run([*run, "project", "create", "blackhole"], capture_output=True, text=True)
    assert again.returncode == 1 and "exists" in again.stderr
