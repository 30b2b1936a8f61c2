"""The staff workbench (工作台) pages under `/staff/`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from minyi.web.templating import render

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def workbench(request: Request) -> HTMLResponse:
    return render(request, "staff/index.html")
