"""`minyi audit verify`: walk the hash chain and report the first broken link."""

from __future__ import annotations

import typer

from minyi.audit import service
from minyi.core.db import session_scope

audit_app = typer.Typer(help="The tamper-evident audit trail")


@audit_app.command()
def verify() -> None:
    """Check every entry of the audit trail; exit 1 at the first broken link."""
    with session_scope() as session:
        result = service.verify(session)
    if result.ok:
        typer.echo(
            f"审计链完整：共 {result.entries} 条，未发现篡改 / "
            f"audit trail intact: {result.entries} entries"
        )
        return
    assert result.broken is not None
    typer.echo(
        f"审计链断裂：第 {result.broken.seq} 条（{result.broken.reason}） / "
        f"audit trail broken at entry {result.broken.seq}: {result.broken.reason}",
        err=True,
    )
    raise typer.Exit(code=1)
