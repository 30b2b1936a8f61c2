"""`minyi lists import|export`: the organisation and the three lists as CSV or Excel."""

from __future__ import annotations

import typer

lists_app = typer.Typer(help="Import and export the organisation and the three lists")
