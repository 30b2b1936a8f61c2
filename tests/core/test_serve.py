"""`minyi migrate` then `minyi serve`: a real server process answering over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

MINYI = str(Path(sys.executable).with_name("minyi"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_migrate_and_serve_over_http(tmp_path: Path) -> None:
    env = dict(os.environ, MINYI_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    migrated = subprocess.run(
        [MINYI, "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout

    port = free_port()
    server = subprocess.Popen(
        [MINYI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the server did not come up")
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert "/api/v1/catalogue/items" in spec["paths"]
        assert "/api/v1/auth/token" in spec["paths"]
    finally:
        server.terminate()
        server.wait(timeout=10)
