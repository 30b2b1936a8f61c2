"""Admin import and export of the organisation and the lists; the coverage report.

Register with `app.include_router(io_router, prefix="/api/v1")`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response

from minyi.catalogue import io
from minyi.catalogue.coverage import CoverageReport, coverage_report
from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import DomainError
from minyi.org.auth import AdminUser, require_roles
from minyi.org.domain import Role
from minyi.org.models import User

router = APIRouter(tags=["lists import and export"])

# Large enough for Shenzhen's 70,077 implementation entries, small enough to hold in memory.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

ListsReader = Annotated[
    User,
    Depends(require_roles(Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.ANALYST, Role.LEADER)),
]


@router.post("/admin/lists/{kind}/import", response_model=io.ImportReport)
def import_list(
    kind: str,
    session: SessionDep,
    clock: ClockDep,
    admin: AdminUser,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or .xlsx")],
    batch_number: Annotated[str | None, Form(max_length=32)] = None,
    reason: Annotated[str | None, Form()] = None,
    effective_at: Annotated[str | None, Form(description="ISO 8601; default now")] = None,
) -> io.ImportReport:
    """All or nothing: a bad file is 422 `import_invalid` with every bad row in `details`."""
    list_kind = io.parse_kind(kind)
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError(
            "file_too_large",
            f"文件超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
            f"The file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
            status_code=413,
        )
    return io.import_file(
        session,
        list_kind,
        file.filename or "upload",
        data,
        batch_number=batch_number,
        author=admin.display_name,
        actor=f"user:{admin.id}",
        reason=reason,
        effective_at=io.parse_time(effective_at) if effective_at else None,
        clock=clock,
    )


@router.get("/admin/lists/{kind}/export", response_class=Response)
def export_list(
    kind: str,
    session: SessionDep,
    clock: ClockDep,
    _: AdminUser,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
    at: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    headers: Annotated[Literal["en", "zh"], Query(description="Column headers")] = "en",
) -> Response:
    """The table (or, as xlsx, the whole set) as in force at `at`; it re-imports cleanly."""
    out = io.export_file(
        session,
        io.parse_kind(kind),
        fmt=fmt,
        at=io.parse_time(at) if at else clock.now(),
        headers=headers,
    )
    return Response(
        content=out.content,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"'},
    )


@router.get("/catalogue/coverage", response_model=CoverageReport)
def coverage(
    session: SessionDep,
    clock: ClockDep,
    _: ListsReader,
    at: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Longest list returned")] = 500,
) -> CoverageReport:
    """Uncovered items, district gaps, missing implementation rules, bad district values."""
    when = io.parse_time(at) if at else clock.now()
    return coverage_report(session, at=when, limit=limit)
