"""The independent client `georeport` (PyPI, 0.3.1) reads services and requests from a
running Minyi: uvicorn in a thread on a free 127.0.0.1 port, over a scratch database of
its own (SQLite, or PostgreSQL with MINYI_TEST_DB=postgresql) holding the small world."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from georeport import GeoReport  # type: ignore[import-untyped]
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from minyi.api.app import create_app
from minyi.catalogue import service as catalogue_service
from minyi.core.deps import get_session, get_triage_engine
from minyi.intake.filestore import DirectoryFileStore, get_file_store
from minyi.triage.engine import NoModel
from minyi.triage.locator import clear_locator_cache
from tests.factories import make_ticket
from tests.open311.conftest import make_open311_world
from tests.servers import free_port


@dataclass(frozen=True)
class Live:
    root: str  # the Open311 endpoint, as a client is configured with it
    key: str
    hotline_ticket_id: str


def _clear_caches() -> None:
    # The lists and the area tree are cached per process; the server's database is not
    # the one other tests use.
    catalogue_service.get_index().clear()
    clear_locator_cache()


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass  # signals belong to pytest's main thread


@pytest.fixture()
def live(scratch_db: tuple[Engine, str], tmp_path: Path) -> Iterator[Live]:
    engine, _ = scratch_db
    _clear_caches()
    with Session(engine, expire_on_commit=False) as setup:
        o311 = make_open311_world(setup)
        hotline = make_ticket(setup, o311.world)
        setup.commit()
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def _session() -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    store = DirectoryFileStore(tmp_path / "files")
    app = create_app()
    app.dependency_overrides[get_session] = _session
    app.dependency_overrides[get_triage_engine] = NoModel
    app.dependency_overrides[get_file_store] = lambda: store
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, name="open311-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the Open311 test server did not start")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}/open311/v2/", o311.key, str(hotline.id))
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        _clear_caches()


def _post(live: Live, **fields: str) -> str:
    data = {
        "api_key": live.key,
        "service_code": "T50101",
        "address_string": "东风街道幸福小区东门",
        "phone": "13812345678",
        **fields,
    }
    response = httpx.post(f"{live.root}requests.json", data=data, timeout=30)
    assert response.status_code == 200, response.text
    request_id: str = response.json()[0]["service_request_id"]
    return request_id


def _as_list(found: Any) -> list[dict[str, Any]]:
    # xmltodict gives one element as a dict and several as a list.
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_reads_services_and_requests(live: Live, output_format: str) -> None:
    lamp = _post(live, description="路灯不亮，晚上很黑 <b>急</b>")
    other = _post(live, service_code="T5-T502-T59999", description="小区里的其他生活服务问题")
    client = GeoReport(live.root, jurisdiction="minyi.example", output_format=output_format)

    services = {s["service_code"]: s for s in _as_list(client.get_service_list())}
    assert {"T40201", "T50101", "T5-T501-T59999", "T5-T502-T59999"} == set(services)
    assert services["T50101"]["service_name"] == "路灯不亮"
    assert services["T50101"]["group"] == "市政"

    definition = client.get_service_definition("T50101")
    assert definition["service_code"] == "T50101"
    attributes = definition["attributes"]
    if output_format == "xml":
        attributes = _as_list(attributes["attribute"])
    assert [a["code"] for a in attributes] == ["appeal_type", "anonymous", "emergency_notice"]

    listed = _as_list(client.get_service_requests())
    assert {r["service_request_id"] for r in listed} == {lamp, other, live.hotline_ticket_id}
    assert all("13812345678" not in str(r) for r in listed)
    by_code = _as_list(client.get_service_requests(service_code="T50101,T40201", status="open"))
    assert {r["service_request_id"] for r in by_code} == {lamp, live.hotline_ticket_id}
    by_id = _as_list(client.get_service_requests(service_request_id=f"{other},{lamp}"))
    assert {r["service_request_id"] for r in by_id} == {lamp, other}

    one = client.get_service_request(lamp)
    assert one["service_request_id"] == lamp and one["status"] == "open"
    assert one["service_code"] == "T50101" and one["status_notes"] == "已受理"
    assert one["description"] == "路灯不亮，晚上很黑 <b>急</b>"
    hotline = client.get_service_request(live.hotline_ticket_id)
    assert hotline["service_code"] == "T40201" and hotline["service_name"] == "建筑施工噪声"
