"""The `minyi` command."""

from __future__ import annotations

import typer

from minyi.audit.cli import audit_app
from minyi.catalogue.cli import lists_app
from minyi.core.config import get_settings
from minyi.demo.cli import demo
from minyi.sla.cli import worker_app
from minyi.triage.cli import model_app
from minyi.triage.knowledge.cli import knowledge_app

app = typer.Typer(help="Minyi 民意速办: the citizen-appeal platform", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(audit_app, name="audit")
app.add_typer(model_app, name="model")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(worker_app, name="worker")
app.command()(demo)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    from minyi.core.db import get_engine
    from minyi.core.migrate import upgrade

    settings = get_settings()
    if settings.database_url.startswith("sqlite:///./"):
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(get_engine())
    typer.echo("数据库结构已是最新 / database schema is up to date")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API, the portal and the workbench."""
    import time

    import uvicorn

    from minyi.core.db import session_scope
    from minyi.triage.engine import get_engine
    from minyi.triage.service import warm_up

    started = time.perf_counter()
    engine = get_engine(get_settings())
    with session_scope() as session:
        warm_up(session, engine)
    typer.echo(
        f"智能分拨已就绪 / triage ready: model {engine.version or '无 none'} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    # One worker in this process: what warm_up loaded is what serves the requests.
    uvicorn.run("minyi.api.main:app", host=host, port=port, log_level="info")


if __name__ == "__main__":
    app()
