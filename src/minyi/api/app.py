"""The application factory: routers and error handlers, nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from minyi import __version__
from minyi.core import logs
from minyi.core.http import install_error_handlers


def create_app() -> FastAPI:
    app = FastAPI(
        title="Minyi 民意速办",
        version=__version__,
        description="The citizen-appeal platform: intake, routing, handling, rating, analysis.",
    )
    install_error_handlers(app)
    logs.install()

    from minyi.api.health import router as health_router
    from minyi.catalogue.io_routes import router as io_router
    from minyi.catalogue.routes import router as catalogue_router
    from minyi.intake.routes import router as intake_router
    from minyi.notify.routes import router as notify_router
    from minyi.org.auth_routes import router as auth_router
    from minyi.org.routes import router as org_router
    from minyi.sla.calendar.routes import router as calendar_router
    from minyi.sla.routes import router as sla_router
    from minyi.tickets.routes import router as tickets_router
    from minyi.triage.knowledge.routes import router as knowledge_router
    from minyi.triage.routes import router as triage_router

    app.include_router(health_router)
    app.include_router(auth_router, prefix="/api/v1")
    app.include_router(org_router, prefix="/api/v1")
    app.include_router(catalogue_router, prefix="/api/v1")
    app.include_router(io_router, prefix="/api/v1")
    app.include_router(intake_router, prefix="/api/v1")
    app.include_router(tickets_router, prefix="/api/v1")
    app.include_router(notify_router, prefix="/api/v1")
    app.include_router(calendar_router, prefix="/api/v1")
    app.include_router(sla_router, prefix="/api/v1")
    app.include_router(knowledge_router, prefix="/api/v1")
    app.include_router(triage_router, prefix="/api/v1")

    from fastapi.staticfiles import StaticFiles

    from minyi.open311.routes import router as open311_router
    from minyi.web.citizen import router as citizen_router
    from minyi.web.staff import router as staff_router
    from minyi.web.templating import STATIC_DIR

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(open311_router)
    app.include_router(staff_router)
    app.include_router(citizen_router)
    return app
