"""`minyi demo`: build the demo city into an empty database."""

from __future__ import annotations

import typer


def demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when a city exists"),
) -> None:
    """Build the demo city A市 (to be written)."""
    raise typer.Exit(code=1)
