"""The Jinja2 environment of the pages: autoescaped, with the large-type mode (长辈模式)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from minyi.core.clock import aware
from minyi.core.config import get_settings

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
LARGE_TYPE_COOKIE = "minyi_large_type"
HTMX = "vendor/htmx-2.0.11.min.js"

# Jinja2Templates autoescapes .html: whatever a citizen typed is shown as text, never markup.
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))


@lru_cache(maxsize=1)
def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def local_time(value: datetime | None) -> str:
    """Wall time where the citizen lives, the way people write it: 2026年11月2日 09:05."""
    if value is None:
        return ""
    local = aware(value).astimezone(_zone())
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def iso_time(value: datetime | None) -> str:
    """For <time datetime="...">: screen readers and scripts read the exact instant."""
    return aware(value).astimezone(_zone()).isoformat(timespec="minutes") if value else ""


templates.env.filters["local_time"] = local_time
templates.env.filters["iso_time"] = iso_time


def large_type(request: Request) -> bool:
    return request.cookies.get(LARGE_TYPE_COOKIE) == "1"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page with what every layout needs (large-type mode, the htmx file)."""
    base = {"large_type": large_type(request), "htmx": HTMX}
    return templates.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code, headers=headers
    )
