"""`python -m minyi.core.pgcheck URL`: exit 0 when PostgreSQL answers at URL."""

from __future__ import annotations

import sys

import psycopg


def answers(url: str) -> bool:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


if __name__ == "__main__":
    sys.exit(0 if answers(sys.argv[1]) else 1)
