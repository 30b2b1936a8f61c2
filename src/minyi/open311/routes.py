"""Open311 GeoReport v2 endpoints (filled in by the Open311 work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/open311/v2", tags=["open311"])
