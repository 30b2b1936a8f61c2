"""A real `minyi serve` process on a free port, for tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

MINYI = str(Path(sys.executable).with_name("minyi"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(database_url: str, **env: str) -> Iterator[str]:
    """Start the server on `database_url`; yield its base URL; stop it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [MINYI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=dict(os.environ, MINYI_DATABASE_URL=database_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError as exc:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not come up") from exc
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
