"""The Jinja2 environment of the pages: autoescaped, with the large-type mode (长辈模式)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
LARGE_TYPE_COOKIE = "minyi_large_type"
HTMX = "vendor/htmx-2.0.11.min.js"

# Jinja2Templates autoescapes .html: whatever a citizen typed is shown as text, never markup.
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))


def large_type(request: Request) -> bool:
    return request.cookies.get(LARGE_TYPE_COOKIE) == "1"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """A page with what every layout needs (large-type mode, the htmx file)."""
    base = {"large_type": large_type(request), "htmx": HTMX}
    return templates.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code
    )
