"""`minyi migrate` then `minyi serve`: a real server process answering over real HTTP."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.servers import MINYI, running_server


def test_migrate_and_serve_over_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    migrated = subprocess.run(
        [MINYI, "migrate"],
        env=dict(os.environ, MINYI_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout

    with running_server(url) as base:
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.json()["status"] == "ok"
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert "/api/v1/catalogue/items" in spec["paths"]
        assert "/api/v1/auth/token" in spec["paths"]
        assert "/api/v1/tickets/{ticket_id}/accept" in spec["paths"]
