"""The citizen portal (市民端): submit, track like a parcel, rate; plain Chinese, mobile first."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse

from minyi.web.templating import LARGE_TYPE_COOKIE, large_type, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "citizen/home.html")


@router.post("/large-type")
def toggle_large_type(request: Request, back: str = Form(default="/")) -> RedirectResponse:
    """Switch the large-type mode (长辈模式) on or off; remembered for a year."""
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if large_type(request):
        response.delete_cookie(LARGE_TYPE_COOKIE)
    else:
        response.set_cookie(
            LARGE_TYPE_COOKIE, "1", max_age=365 * 24 * 3600, samesite="lax", httponly=True
        )
    return response
